using Edge.Core.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Training;

/// <summary>What the caller shows while training runs: steps (decoding, ...) as every long task reports them, plus epochs.</summary>
public interface ITrainingProgress : IProgress<StepProgress>
{
    void Message(string text);
    void EpochStarted(int epoch, int epochs, int batches);
    void Step(int epoch, int batch, int batches, double loss, double accuracy, double imagesPerSecond, TimeSpan eta);
    void EpochEnded(EpochMetrics metrics);
}
