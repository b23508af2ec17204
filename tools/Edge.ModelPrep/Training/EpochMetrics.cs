using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Training;

/// <summary>One epoch's figures, as written to metrics.csv.</summary>
public sealed record EpochMetrics(int Epoch, int Step, double LearningRate, double TrainLoss, double TrainAccuracy,
    double? ValLoss, double? ValAccuracy, double ImagesPerSecond, double DataWaitFraction, double Seconds);
