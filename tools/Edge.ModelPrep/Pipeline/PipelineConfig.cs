using System.Text.Json.Serialization;
using Edge.Cli;

namespace Edge.ModelPrep.Pipeline;

/// <summary>
/// The pipeline's settings (<c>--config pipeline.json</c>; every key optional). Saved in the output folder; a
/// rerun continues only with the same settings. Settable, not init-only: the JSON source generator gives
/// init-only properties missing from the file their type's default instead of the values below.
/// </summary>
public sealed record PipelineConfig
{
    /// <summary>The teacher's architecture: null = <c>train</c>'s choice (an ImageNet ResNet-18 for image folders), resnet20 for other data.</summary>
    public string? TeacherArch { get; set; }
    public double TeacherWidth { get; set; } = 1.0;
    public int TeacherEpochs { get; set; } = 10;
    public string StudentArch { get; set; } = "mobilenetv2";
    public double StudentWidth { get; set; } = 0.5;
    public int StudentEpochs { get; set; } = 10;
    /// <summary>The student's first stride, as <c>train --stem-stride</c> takes it (2 for speed on small inputs); null = the architecture's own.</summary>
    public int? StudentStemStride { get; set; }
    /// <summary>The pruning budget, as <c>prune --target-macs</c> takes it (a share or a count).</summary>
    public string PruneTarget { get; set; } = "50%";
    /// <summary>The pruning budget as a measured latency, as <c>prune --target-latency</c> takes it (0.2ms, 60%); replaces prune_target when set.</summary>
    public string? PruneLatency { get; set; }
    public int PruneEpochs { get; set; } = 5;
    public string PruneCriterion { get; set; } = "l2";
    /// <summary>Residual blocks dropped whole before channels are pruned, as <c>prune --drop-blocks</c> takes it.</summary>
    public int? PruneDropBlocks { get; set; }
    /// <summary>Which blocks prune_drop_blocks drops, as <c>prune --drop-by</c> takes it: strength or latency; null = strength.</summary>
    public string? PruneDropBy { get; set; }
    /// <summary>Teacher of the pruned network's fine-tuning: "source" (the unpruned student), "teacher" (the pipeline's teacher) or "none".</summary>
    public string PruneTeacher { get; set; } = "source";
    public int CalibrationSamples { get; set; } = 512;
    /// <summary>Quantization-aware fine-tuning runs when post-training INT8 loses more than this many top-1 points.</summary>
    public double MaxPtqLoss { get; set; } = 0.3;
    public int QatEpochs { get; set; } = 2;
    /// <summary>auto (when post-training INT8 loses more than <see cref="MaxPtqLoss"/>), always or never.</summary>
    public string Qat { get; set; } = "auto";
    /// <summary>Use a seeded subset of the training data (0 = all).</summary>
    public int MaxImages { get; set; }
    /// <summary>Evaluate the report's models on a seeded subset of this many images (0 = all).</summary>
    public int EvalImages { get; set; }
    public int Seed { get; set; } = 1;
    public int Threads { get; set; }
    /// <summary>Images per class shown with Grad-CAM in the report.</summary>
    public int GradCamPerClass { get; set; } = 1;

    public void Validate(string where)
    {
        string? Bad() => this switch
        {
            { TeacherEpochs: < 1 or > 1000 } => $"teacher_epochs {TeacherEpochs}: expected 1..1000",
            { StudentEpochs: < 1 or > 1000 } => $"student_epochs {StudentEpochs}: expected 1..1000",
            { PruneDropBlocks: < 0 or > 64 } => $"prune_drop_blocks {PruneDropBlocks}: expected 0..64",
            { PruneDropBlocks: > 0, StudentArch: "mobilenetv3-small" } => "prune_drop_blocks: MobileNetV3-Small's blocks cannot be dropped (ResNet and MobileNetV2 students only)",
            { PruneDropBy: { } b } when b is not ("strength" or "latency") => $"prune_drop_by '{b}': expected strength or latency",
            { PruneDropBy: "latency", PruneDropBlocks: null or 0 } => "prune_drop_by latency: give prune_drop_blocks, the number of blocks to drop",
            { PruneEpochs: < 1 or > 1000 } => $"prune_epochs {PruneEpochs}: expected 1..1000 (the pruned network is fine-tuned)",
            { TeacherArch: { } t } when !Models.ArchSpec.Names.Contains(t) => $"teacher_arch '{t}': expected one of {string.Join(", ", Models.ArchSpec.Names)} (or leave it out)",
            { StudentArch: var a } when !Models.ArchSpec.Names.Contains(a) => $"student_arch '{a}': expected one of {string.Join(", ", Models.ArchSpec.Names)}",
            { QatEpochs: < 1 or > 100 } => $"qat_epochs {QatEpochs}: expected 1..100",
            { CalibrationSamples: < 1 or > 100_000 } => $"calibration_samples {CalibrationSamples}: expected 1..100000",
            { MaxPtqLoss: var l } when !double.IsFinite(l) || l < 0 => $"max_ptq_loss {MaxPtqLoss}: expected a number of points >= 0",
            { Qat: not ("auto" or "always" or "never") } => $"qat '{Qat}': expected auto, always or never",
            { PruneTeacher: not ("source" or "teacher" or "none") } => $"prune_teacher '{PruneTeacher}': expected source, teacher or none",
            { PruneCriterion: not ("l1" or "l2" or "bn") } => $"prune_criterion '{PruneCriterion}': expected l1, l2 or bn",
            { EvalImages: < 0 } => $"eval_images {EvalImages}: expected 0 (all) or more",
            { MaxImages: < 0 } => $"max_images {MaxImages}: expected 0 (all) or more",
            { Threads: < 0 or > 64 } => $"threads {Threads}: expected 0..64",
            { GradCamPerClass: < 0 or > 10 } => $"gradcam_per_class {GradCamPerClass}: expected 0..10",
            { TeacherWidth: var w } when !double.IsFinite(w) || w is <= 0 or > 4 => $"teacher_width {TeacherWidth}: expected (0, 4]",
            { StudentStemStride: not (null or 1 or 2) } => $"student_stem_stride {StudentStemStride}: expected 1 or 2 (or leave it out)",
            { StudentWidth: var w } when !double.IsFinite(w) || w is <= 0 or > 4 => $"student_width {StudentWidth}: expected (0, 4]",
            _ => null,
        };
        if (Bad() is { } why) throw new CliError($"{where}: {why}", ExitCodes.Usage);
        try { Commands.PruneCommand.ParseBudget(PruneTarget); }
        catch (CliError e) { throw new CliError($"{where}: prune_target: {e.Message}", ExitCodes.Usage); }
        try { if (PruneLatency is not null) Commands.PruneCommand.ParseLatency(PruneLatency); }
        catch (CliError e) { throw new CliError($"{where}: prune_latency: {e.Message}", ExitCodes.Usage); }
    }
}

/// <summary>One stage as it ran: its command line (rerunnable by hand), whether it ran or was found done, and its time.</summary>
public sealed record PipelineStage(string Stage, string Command, string Status, double Seconds);

/// <summary>One model in the report: accuracy on the evaluation data, size and ONNX Runtime latency (1 thread, batch 1).</summary>
public sealed record PipelinePoint(string Stage, string Model, string Precision, double Top1, long? Macs, long? Bytes, double LatencyP50Ms);

/// <summary>pipeline.json: the settings, the stages and the figures (and <c>--json</c>'s output).</summary>
public sealed record PipelineSummary(
    string Out,
    string Data,
    string? EvalData,
    PipelineConfig Config,
    IReadOnlyList<PipelineStage> Stages,
    IReadOnlyList<PipelinePoint> Points,
    string? Final,
    string? Report);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonNaming.Policy, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, AllowTrailingCommas = true, ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(PipelineConfig))]
[JsonSerializable(typeof(PipelineSummary))]
internal sealed partial class PipelineJson : JsonSerializerContext;
