using Edge.Onnx.IO;
using Edge.Cli;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.ModelPrep.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Training;

public sealed class CheckpointException(string message, Exception? inner = null) : EdgeException(message, inner);
