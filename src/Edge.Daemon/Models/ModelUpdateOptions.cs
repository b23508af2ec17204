namespace Edge.Daemon.Models;

/// <summary>How <c>edged run</c> takes new models: <c>Model:Updates</c>.</summary>
public sealed record ModelUpdateOptions
{
    /// <summary>Watch the folder and accept <c>POST /api/model</c> (with Http:Token). false: the configured model runs until a restart.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>Folder watched for new <c>.onnx</c> files; unset = <c>models/incoming</c> in the state directory.</summary>
    public string? Folder { get; set; }
    /// <summary>Largest model accepted, in MiB.</summary>
    public int MaxMb { get; set; } = 256;
    /// <summary>Refuse a model without a SHA-256 to check it against (<c>NAME.onnx.sha256</c> beside it, or <c>?sha256=</c>).</summary>
    public bool RequireChecksum { get; set; }
    /// <summary>Accept a model whose labels differ from the running model's (rules must still name labels it has).</summary>
    public bool AllowLabelChange { get; set; }
    /// <summary>Classifications a new model is watched for; the model it replaced stays loaded until then.</summary>
    public int ProbationFrames { get; set; } = 100;
    /// <summary>Failed classifications during probation that bring the previous model back.</summary>
    public int RollbackFailures { get; set; } = 3;
    /// <summary>A dropped file is read once its size and time have not changed for this long (it may still be being copied).</summary>
    public int StableMs { get; set; } = 1000;
}
