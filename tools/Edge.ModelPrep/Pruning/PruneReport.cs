namespace Edge.ModelPrep.Pruning;

/// <summary>One channel group before and after a pruning step.</summary>
public sealed record GroupChannels(string Group, int Full, int Before, int After);

/// <summary>One prune → fine-tune step.</summary>
public sealed record PruneStep(
    int Step,
    long TargetMacs,
    long MacsBefore,
    long MacsAfter,
    long ParametersBefore,
    long ParametersAfter,
    IReadOnlyList<GroupChannels> Groups,
    string Pruned,
    string? FineTuned,
    int FineTuneEpochs,
    double? ValAccuracy);

/// <summary>A network's size and, when evaluated, its test accuracy and ONNX Runtime latency (FP32, batch 1).</summary>
public sealed record NetworkFigures(string Checkpoint, long Macs, long Parameters, double? TestTop1 = null, double? LatencyP50Ms = null, int? LatencyThreads = null);

/// <summary>What <c>edge-prep prune</c> did: written to pruning.json in the run and, with --json, to standard output.</summary>
public sealed record PruneSummary(
    string Run,
    string Source,
    string Criterion,
    string Scope,
    string? Teacher,
    IReadOnlyList<PruneStep> Steps,
    NetworkFigures Before,
    NetworkFigures After,
    string? TestData,
    LatencySearch? Latency = null,
    BlockLatencySearch? Blocks = null);
