namespace Edge.Daemon.Storage;

public sealed record StoredResult(long Id, DateTimeOffset Time, string Source, string Trigger, IReadOnlyList<StoredPrediction> Top, double LatencyMs, string? Snapshot,
    string? Model = null, string? Region = null, string? State = null, string? Camera = null, string? Decision = null);

/// <summary>A stored state change (see <see cref="StateEventRecord"/>); ids increase in the order they happened.</summary>
public sealed record StoredEvent(long Id, DateTimeOffset Time, string Camera, string Region, string? From, string To, float Score,
    IReadOnlyList<StoredPrediction> Top, long Frame, string? Model, string? Snapshot, string? Clip = null);

public sealed record StoredModelEvent(long Id, DateTimeOffset Time, string Event, string? Sha256, string Origin, string? Detail);
