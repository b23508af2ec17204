using Edge.Daemon.Actions;
using Edge.Daemon.Triggers;

namespace Edge.Daemon.Pipeline;

/// <summary>When to classify and what to do with results.</summary>
public sealed record PipelineSettings
{
    public TriggerMode Mode { get; init; } = TriggerMode.Continuous;
    /// <summary>Most classifications per second (continuous and motion).</summary>
    public double MaxRate { get; init; } = 10;
    /// <summary>Frames classified per HTTP/GPIO trigger.</summary>
    public int Burst { get; init; } = 1;
    public int TopK { get; init; } = 5;
    /// <summary>Average the scores of the last N classifications before ranking (1 = off).</summary>
    public int Smoothing { get; init; } = 1;
    public MotionSettings Motion { get; init; } = new();
    /// <summary>After motion, classify at most once per this long.</summary>
    public TimeSpan MotionCooldown { get; init; } = TimeSpan.FromSeconds(1);
    public IReadOnlyList<GpioOutputRule> Rules { get; init; } = [];
    public SnapshotWriter? Snapshots { get; init; }
    /// <summary>
    /// Every frame matters (a folder of files: each is an event): capture waits for classification instead
    /// of dropping frames, and continuous mode classifies every frame (the source's rate is the rate).
    /// </summary>
    public bool Lossless { get; init; }
    /// <summary>How long the source may be down (reconnecting) before the daemon reports itself unhealthy.</summary>
    public TimeSpan SourceGrace { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>The camera's name in events, results and metrics.</summary>
    public string CameraName { get; init; } = "camera";
    /// <summary>Parts of the frame classified on their own; empty = the whole frame.</summary>
    public IReadOnlyList<Regions.Region> Regions { get; init; } = [];
    /// <summary>How results become states (unknown, thresholds, consecutive, hysteresis).</summary>
    public Decisions.DecisionOptions Decision { get; init; } = new();
    /// <summary>Keeps the last frames and saves clips around state changes (the caller's; null = no clips).</summary>
    public Clips.ClipRecorder? Clips { get; init; }
}
