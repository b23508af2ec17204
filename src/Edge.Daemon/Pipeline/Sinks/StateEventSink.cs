using Edge.Daemon.Storage;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Pipeline.Sinks;

/// <summary>
/// Turns regions' state changes into events: said, kept for the status, a clip begun, stored (webhooks deliver them
/// from the store). After the frame's results are queued (a result goes before the change it caused) and before the
/// actions, so that an action that fails cannot lose a state change.
/// Allocates only when a state changes.
/// </summary>
internal sealed class StateEventSink(ResultWriter? store, Clips.ClipRecorder? clips, ILogger logger) : IFrameSink
{
    /// <summary>State changes kept in memory for the status and the page (all of them are in the store).</summary>
    public const int RecentCount = 50;

    private readonly Lock _gate = new();
    private readonly StateEventRecord?[] _recent = new StateEventRecord?[RecentCount];
    private int _next;
    private long _changes;

    /// <summary>State changes since start, all regions.</summary>
    public long Changes => Interlocked.Read(ref _changes);

    /// <summary>The latest state changes, oldest first.</summary>
    public IReadOnlyList<StateEventRecord> Recent
    {
        get
        {
            lock (_gate)
            {
                var list = new List<StateEventRecord>(RecentCount);
                for (var i = 0; i < RecentCount; i++)
                    if (_recent[(_next + i) % RecentCount] is { } e) list.Add(e);
                return list;
            }
        }
    }

    public void Write(FrameOutcome outcome)
    {
        foreach (var r in outcome.Regions)
        {
            if (r.Change is not { } change) continue;
            Interlocked.Increment(ref _changes);
            var clip = clips?.Begin(r.Region.Name, outcome.Frame.Time);
            var e = new StateEventRecord(change.Since, outcome.Camera, r.Region.Name, change.From, change.To, change.Score,
                r.TopStored[..r.Count], outcome.Frame.Sequence, outcome.Model, outcome.Snapshot, clip);
            lock (_gate)
            {
                _recent[_next] = e;
                _next = (_next + 1) % RecentCount;
            }
            logger.LogInformation("{Camera}/{Region}: {From} → {To} ({Score:0.000})", outcome.Camera, r.Region.Name, change.From ?? "(start)", change.To, change.Score);
            store?.Add(e);
        }
    }
}
