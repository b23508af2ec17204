using Edge.Core.Diagnostics;
using Edge.ModelPrep.Training;

namespace Edge.ModelPrep.Tests;

/// <summary>Progress that prints nothing and keeps the messages, for tests that check what was said.</summary>
internal sealed class RecordingProgress : ITrainingProgress
{
    public List<string> Lines { get; } = [];
    public void Message(string text) => Lines.Add(text);
    public void Report(StepProgress value) { }
    public void EpochStarted(int epoch, int epochs, int batches) { }
    public void Step(int epoch, int batch, int batches, double loss, double accuracy, double imagesPerSecond, TimeSpan eta) { }
    public void EpochEnded(EpochMetrics metrics) { }
}
