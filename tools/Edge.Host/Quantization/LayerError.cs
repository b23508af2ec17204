
namespace Edge.Host.Quantization;

/// <summary>FP32 vs INT8 values of one quantized tensor on calibration samples.</summary>
public sealed record LayerError(string Tensor, string Producer, string OpType, double SqnrDb, double RelativeRmse);
