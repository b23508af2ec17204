using Edge.Daemon.Storage;

namespace Edge.Daemon.Pipeline;

/// <summary>The latest classification, as the status API and page show it.</summary>
public sealed record LatestResult(long Sequence, DateTimeOffset Time, string Trigger, IReadOnlyList<StoredPrediction> Top, double LatencyMs);
