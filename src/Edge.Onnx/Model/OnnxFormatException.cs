namespace Edge.Onnx.Model;

/// <summary>A file that is not a usable ONNX model: empty, truncated, not protobuf, or missing a graph.</summary>
public sealed class OnnxFormatException(string message, Exception? inner = null) : EdgeException(message, inner);
