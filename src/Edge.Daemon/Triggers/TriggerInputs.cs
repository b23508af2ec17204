namespace Edge.Daemon.Triggers;

/// <summary>The hardware inputs that trigger cameras (GPIO edges, PIR sensors), as the metrics count them.</summary>
public sealed record TriggerInputs(IReadOnlyList<GpioEdgeTrigger> Edges, IReadOnlyList<PirMotionTrigger> Pirs)
{
    public static readonly TriggerInputs None = new([], []);
}
