namespace Edge.Host.Quantization;

/// <summary>Integer type of quantized activations.</summary>
/// <remarks>
/// uint8 (U8S8) is the default: ONNX Runtime on x86 runs S8S8 QDQ models by rewriting each
/// QuantizeLinear → DequantizeLinear pair to uint8, and it does so only where one Q feeds one DQ.
/// A tensor read by two layers (every residual branch) keeps its int8 pair, and the Conv on either
/// side stays in float (measured on ONNX Runtime 1.31: ResNet-20 fuses 10 of 22 layers as int8, all
/// 22 as uint8). Writing U8S8 gives the graph ONNX Runtime would have run anyway.
/// </remarks>
public enum ActivationType
{
    /// <summary>int8, asymmetric (S8S8).</summary>
    Int8,
    /// <summary>uint8, asymmetric (U8S8): the default.</summary>
    UInt8,
}
