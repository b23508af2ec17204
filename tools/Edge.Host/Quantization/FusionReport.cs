using Edge.Core.Diagnostics;
using System.Diagnostics;
using Edge.Host.Datasets;
using Edge.Core.Inference;
using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace Edge.Host.Quantization;

/// <summary>How ONNX Runtime ran a quantized model after its graph optimisations.</summary>
public sealed record FusionReport(int IntegerKernels, IReadOnlyDictionary<string, int> OptimizedOperators, IReadOnlyList<string> FloatComputeNodes);
