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

/// <summary>The paths inside a run folder.</summary>
/// <summary>Training diverged (the loss is not a number): the settings', not the program's, fault.</summary>
public sealed class TrainingDivergedException(string message) : EdgeException(message);
