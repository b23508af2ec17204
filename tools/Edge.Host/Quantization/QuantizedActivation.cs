using static Edge.Host.Quantization.GraphEditing;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.Host.Quantization;

/// <summary>One quantized activation tensor and the node that produces it.</summary>
public sealed record QuantizedActivation(string Tensor, string Producer, string OpType, QuantParams Params, float RangeMin, float RangeMax);
