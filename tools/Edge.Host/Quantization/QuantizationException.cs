namespace Edge.Host.Quantization;

/// <summary>A model or an input that the quantizer will not take, with the reason.</summary>
public sealed class QuantizationException(string message, Exception? inner = null) : EdgeException(message, inner);
