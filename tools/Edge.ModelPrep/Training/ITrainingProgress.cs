using Edge.Core.Diagnostics;
using Edge.Onnx.IO;
using Edge.Cli;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Edge.Host.Datasets;
using Edge.ModelPrep.Commands;
using Edge.ModelPrep.Data;
using Edge.ModelPrep.Models;
using Edge.Onnx.Metadata;
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
