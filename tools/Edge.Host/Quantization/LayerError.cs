using Edge.Core.Diagnostics;
using System.Diagnostics;
using Edge.Host.Datasets;
using Edge.Core.Inference;
using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace Edge.Host.Quantization;

/// <summary>FP32 vs INT8 values of one quantized tensor on calibration samples.</summary>
public sealed record LayerError(string Tensor, string Producer, string OpType, double SqnrDb, double RelativeRmse);
