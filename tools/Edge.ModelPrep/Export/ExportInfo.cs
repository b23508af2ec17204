using Edge.Onnx.Metadata;
using TorchSharp.Modules;
using static TorchSharp.torch;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.ModelPrep.Export;

/// <summary>Facts about a trained model that go into its ONNX metadata beside labels and preprocessing.</summary>
public sealed record ExportInfo(IReadOnlyList<string> Labels, PreprocessingSpec Preprocessing, string TrainingData, double? Accuracy);
