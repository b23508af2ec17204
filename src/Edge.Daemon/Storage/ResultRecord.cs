using Microsoft.Data.Sqlite;

namespace Edge.Daemon.Storage;

/// <summary>A classification as recorded.</summary>
public sealed record ResultRecord(DateTimeOffset Time, string Source, string Trigger, IReadOnlyList<StoredPrediction> Top, double LatencyMs, string? Snapshot);
