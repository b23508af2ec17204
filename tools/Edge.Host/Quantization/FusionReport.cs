
namespace Edge.Host.Quantization;

/// <summary>How ONNX Runtime ran a quantized model after its graph optimisations.</summary>
public sealed record FusionReport(int IntegerKernels, IReadOnlyDictionary<string, int> OptimizedOperators, IReadOnlyList<string> FloatComputeNodes);
