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

/// <summary>One epoch's figures, as written to metrics.csv.</summary>
public sealed record EpochMetrics(int Epoch, int Step, double LearningRate, double TrainLoss, double TrainAccuracy,
    double? ValLoss, double? ValAccuracy, double ImagesPerSecond, double DataWaitFraction, double Seconds);
