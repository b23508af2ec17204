using TorchSharp.Modules;
using static TorchSharp.torch;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.ModelPrep.Export;

public sealed class ExportException(string message) : EdgeException(message);
