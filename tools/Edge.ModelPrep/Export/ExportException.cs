using System.Globalization;
using Edge.Core.Inference;
using Edge.ModelPrep.Models;
using Edge.Onnx.Protos;
using Edge.Onnx.Metadata;
using Edge.Onnx.Model;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp.Modules;
using static TorchSharp.torch;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.ModelPrep.Export;

public sealed class ExportException(string message) : EdgeException(message);
