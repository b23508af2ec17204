using static Edge.Host.Quantization.GraphEditing;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.Host.Quantization;

public sealed record QdqOptions
{
    public ActivationType Activations { get; init; } = ActivationType.UInt8;
    /// <summary>Node names (or output tensor names) to keep in FP32.</summary>
    public IReadOnlySet<string> Exclude { get; init; } = new HashSet<string>();
    /// <summary>Weight bits, 7 (exact on every CPU, the default) or 8 (<see cref="WeightQuantizer"/>).</summary>
    public int WeightBits { get; init; } = WeightQuantizer.DefaultBits;
}
