using Edge.Daemon.Capture;

namespace Edge.Daemon.Pipeline.Sinks;

/// <summary>
/// One classified frame as the sinks see it, in order: the regions' decided results, and what earlier sinks added
/// (the snapshot's name). The pipeline reuses one instance for every frame: a sink keeps nothing from it but copies.
/// </summary>
internal sealed class FrameOutcome(string camera)
{
    public string Camera { get; } = camera;
    /// <summary>The source's description as the frame came (results keep it; a reopened camera may describe itself anew).</summary>
    public string Source { get; private set; } = "";
    public Frame Frame { get; private set; } = null!;
    public string Trigger { get; private set; } = "";
    public double LatencyMs { get; private set; }
    /// <summary>The model's short identity.</summary>
    public string Model { get; private set; } = "";
    public RegionTrack[] Regions { get; private set; } = [];
    /// <summary>The frame's snapshot (its name), when one was saved.</summary>
    public string? Snapshot { get; set; }
    /// <summary>One region covering the whole frame (results then name no region).</summary>
    public bool WholeFrame => Regions.Length == 1 && Regions[0].Region.IsWholeFrame;

    public void Begin(Frame frame, string trigger, double latencyMs, string model, RegionTrack[] regions, string source)
    {
        (Frame, Trigger, LatencyMs, Model, Regions, Source, Snapshot) = (frame, trigger, latencyMs, model, regions, source, null);
    }
}

/// <summary>A stage after the decision: stores, acts, notifies. Runs on the pipeline's thread, in the order the pipeline gives.</summary>
internal interface IFrameSink
{
    void Write(FrameOutcome outcome);
}
