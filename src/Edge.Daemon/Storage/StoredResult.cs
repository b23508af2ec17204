using Microsoft.Data.Sqlite;

namespace Edge.Daemon.Storage;

public sealed record StoredResult(long Id, DateTimeOffset Time, string Source, string Trigger, IReadOnlyList<StoredPrediction> Top, double LatencyMs, string? Snapshot);
