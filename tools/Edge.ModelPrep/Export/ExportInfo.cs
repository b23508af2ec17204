using System.Globalization;
using Edge.Core.Inference;
using Edge.ModelPrep.Models;
using Edge.Onnx.Protos;
using Edge.Onnx.Metadata;
using Edge.Onnx.Model;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp.Modules;
using static TorchSharp.torch;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.ModelPrep.Export;

/// <summary>Facts about a trained model that go into its ONNX metadata beside labels and preprocessing.</summary>
public sealed record ExportInfo(IReadOnlyList<string> Labels, PreprocessingSpec Preprocessing, string TrainingData, double? Accuracy);
