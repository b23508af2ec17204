using TorchSharp;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Models;

/// <summary>One convolution and the BatchNorm after it, as read from an ONNX graph.</summary>
public sealed record ConvBnWeights(string Node, float[] Weight, long[] Shape, int Stride, float[] Gamma, float[] Beta, float[] Mean, float[] Var);
