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

public sealed record TrainResult(CheckpointState Last, CheckpointState Best, IReadOnlyList<EpochMetrics> Epochs, bool StoppedEarly,
    double DataWaitFraction, IReadOnlyList<SkippedImage> Skipped, int TrainImages, int ValImages);
