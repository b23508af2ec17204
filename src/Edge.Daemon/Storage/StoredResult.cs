namespace Edge.Daemon.Storage;

public sealed record StoredResult(long Id, DateTimeOffset Time, string Source, string Trigger, IReadOnlyList<StoredPrediction> Top, double LatencyMs, string? Snapshot,
    string? Model = null);

public sealed record StoredModelEvent(long Id, DateTimeOffset Time, string Event, string? Sha256, string Origin, string? Detail);
