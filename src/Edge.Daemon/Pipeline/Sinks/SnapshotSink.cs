using Edge.Daemon.Actions;

namespace Edge.Daemon.Pipeline.Sinks;

/// <summary>
/// Saves at most one snapshot per frame: for the first region whose result the snapshot filter takes. First of the
/// sinks, so that results and state changes can name it.
/// </summary>
internal sealed class SnapshotSink(SnapshotWriter writer) : IFrameSink
{
    public void Write(FrameOutcome outcome)
    {
        foreach (var r in outcome.Regions)
            if (r.Count > 0 && (outcome.Snapshot = writer.Save(outcome.Frame.Data, outcome.Frame.Time, r.TopStored[0].Label, r.TopStored[0].Score, outcome.Camera)) is not null)
                return;
    }
}
