using Edge.Daemon.Storage;

namespace Edge.Daemon.Pipeline.Sinks;

/// <summary>One stored result per region of each classified frame (the store's queue keeps its own copy: a row written to SQLite allocates anyway).</summary>
internal sealed class ResultStoreSink(ResultWriter store) : IFrameSink
{
    public void Write(FrameOutcome o)
    {
        var whole = o.WholeFrame;
        foreach (var r in o.Regions)
            store.Add(new ResultRecord(o.Frame.Time, o.Source, o.Trigger, r.TopStored.AsSpan(0, r.Count).ToArray(), o.LatencyMs, o.Snapshot, o.Model,
                whole ? null : r.Region.Name, r.Decider.State, o.Camera, r.Decider.LastDecision));
    }
}
