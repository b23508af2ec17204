using Edge.Daemon.Actions;

namespace Edge.Daemon.Pipeline.Sinks;

/// <summary>Output pins driven by results: each rule sees the regions it names (or all). Last of the sinks: nothing is lost when a pin fails.</summary>
internal sealed class GpioRuleSink(IReadOnlyList<GpioOutputRule> rules) : IFrameSink
{
    private readonly GpioOutputRule[] _rules = [.. rules]; // an array: a for-each over it allocates nothing per frame

    public void Write(FrameOutcome o)
    {
        foreach (var r in o.Regions)
        {
            var top = r.TopStored.AsSpan(0, r.Count);
            foreach (var rule in _rules)
                if (rule.Region is null || rule.Region == r.Region.Name) rule.Apply(top);
        }
    }
}
