namespace Edge.Daemon.Storage;

/// <summary>Something the store keeps, in the order it happened: a classification, or a model event.</summary>
public abstract record StoreEntry(DateTimeOffset Time)
{
    /// <summary>Its place in the writer's queue (set when queued): results and events are committed in this order.</summary>
    internal long Order { get; set; }
}

/// <summary>A classification as recorded; <paramref name="Model"/> is the short hash of the model that made it.</summary>
public sealed record ResultRecord(DateTimeOffset Time, string Source, string Trigger, IReadOnlyList<StoredPrediction> Top, double LatencyMs, string? Snapshot,
    string? Model = null, string? Region = null, string? State = null, string? Camera = null, string? Decision = null) : StoreEntry(Time);

/// <summary>
/// A region's state change: <paramref name="From"/> (null: the first decision since start) → <paramref name="To"/> (a
/// class or <c>unknown</c>), with the scores that decided it and the frame's sequence number.
/// </summary>
public sealed record StateEventRecord(DateTimeOffset Time, string Camera, string Region, string? From, string To, float Score,
    IReadOnlyList<StoredPrediction> Top, long Frame, string? Model, string? Snapshot, string? Clip = null) : StoreEntry(Time);

/// <summary>
/// A model update as recorded: accepted, refused (with the reason), swapped in, proven, rolled back.
/// <paramref name="Sha256"/> is the full hash of the model concerned; <paramref name="Origin"/> where it came from.
/// </summary>
public sealed record ModelEventRecord(DateTimeOffset Time, string Event, string? Sha256, string Origin, string? Detail) : StoreEntry(Time);
