using Edge.Onnx.Protos;
using static Edge.Host.Quantization.GraphEditing;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.Host.Quantization;

public sealed record QdqResult(ModelProto Model, IReadOnlyList<QuantizedActivation> Activations, IReadOnlyList<QuantizedWeight> Weights,
    IReadOnlyList<string> FusedActivations, IReadOnlyList<string> FloatComputeNodes);
