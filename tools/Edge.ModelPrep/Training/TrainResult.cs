using Edge.ModelPrep.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Training;

public sealed record TrainResult(CheckpointState Last, CheckpointState Best, IReadOnlyList<EpochMetrics> Epochs, bool StoppedEarly,
    double DataWaitFraction, IReadOnlyList<SkippedImage> Skipped, int TrainImages, int ValImages);
