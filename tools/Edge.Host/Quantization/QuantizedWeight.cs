using static Edge.Host.Quantization.GraphEditing;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.Host.Quantization;

/// <summary>A quantized weight: per-channel scales along <see cref="Axis"/>.</summary>
public sealed record QuantizedWeight(string Node, string OpType, string Weight, int Axis, int Channels, float MinScale, float MaxScale, bool BiasQuantized);
