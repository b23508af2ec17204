
namespace Edge.Onnx.Model;

/// <summary>A node that does multiply-accumulate work (Conv, Gemm, MatMul and their quantized forms).</summary>
public sealed record LayerCost(string Name, string OpType, IReadOnlyList<long>? OutputShape, long? Macs, long Parameters);
