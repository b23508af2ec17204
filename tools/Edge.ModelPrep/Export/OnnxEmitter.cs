using Edge.Onnx.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Export;

/// <summary>Activation functions the architectures use; each has one ONNX form.</summary>
public enum Activation { None, Relu, Relu6, HardSwish }

/// <summary>
/// Writes the ONNX nodes of our TorchSharp layers through <see cref="GraphBuilder"/>: each block
/// knows its own forward (residual adds, squeeze-excite) and calls these helpers in the same order.
/// BatchNorm is folded into the preceding convolution here, in double precision.
/// </summary>
public sealed class OnnxEmitter(GraphBuilder graph)
{
    private string? _zero, _six;

    public GraphBuilder Graph { get; } = graph;

    private static float[] Values(Tensor t)
    {
        using var c = t.detach().cpu().to_type(ScalarType.Float32).contiguous();
        return c.data<float>().ToArray();
    }

    /// <summary>Conv2d (+ BatchNorm folded: w' = w·γ/√(σ²+ε), b' = (b−μ)·γ/√(σ²+ε) + β) (+ activation).</summary>
    public string Conv(string name, Conv2d conv, BatchNorm2d? bn, Activation act, string x)
    {
        var w = Values(conv.weight!);
        var outC = (int)conv.out_channels;
        var perOut = w.Length / outC;
        var b = conv.bias is null ? new float[outC] : Values(conv.bias);
        if (bn is not null)
        {
            var gamma = Values(bn.weight!);
            var beta = Values(bn.bias!);
            var mean = Values(bn.running_mean!);
            var variance = Values(bn.running_var!);
            for (var o = 0; o < outC; o++)
            {
                var s = gamma[o] / Math.Sqrt(variance[o] + bn.eps);
                for (var i = 0; i < perOut; i++) w[o * perOut + i] = (float)(w[o * perOut + i] * s);
                b[o] = (float)((b[o] - mean[o]) * s + beta[o]);
            }
        }
        var k = conv.kernel_size;
        var wName = Graph.Initializer($"{name}.weight", w, [.. conv.weight!.shape]);
        var bName = Graph.Initializer($"{name}.bias", b, outC);
        var p = conv.padding ?? throw new NotSupportedException($"{name}: only explicit convolution padding is exported");
        var y = Graph.Node("Conv", [x, wName, bName], name, name,
            Attr.Ints("kernel_shape", k), Attr.Ints("strides", conv.stride), Attr.Ints("pads", p[0], p[1], p[0], p[1]),
            Attr.Ints("dilations", conv.dilation), Attr.Int("group", conv.groups));
        return Act($"{name}.act", act, y);
    }

    public string Act(string name, Activation act, string x) => act switch
    {
        Activation.None => x,
        Activation.Relu => Graph.Node("Relu", [x], name, name),
        Activation.Relu6 => Graph.Node("Clip", [x, _zero ??= Graph.Initializer("const.zero", [0f]), _six ??= Graph.Initializer("const.six", [6f])], name, name),
        Activation.HardSwish => Graph.Node("HardSwish", [x], name, name),
        _ => throw new ArgumentOutOfRangeException(nameof(act)),
    };

    public string Linear(string name, Linear fc, string x)
    {
        var w = Graph.Initializer($"{name}.weight", Values(fc.weight!), fc.out_features, fc.in_features);
        var b = Graph.Initializer($"{name}.bias", fc.bias is null ? new float[fc.out_features] : Values(fc.bias), fc.out_features);
        return Graph.Node("Gemm", [x, w, b], name, name, Attr.Int("transB", 1));
    }

    public string Add(string name, string a, string b) => Graph.Node("Add", [a, b], name, name);
    public string Mul(string name, string a, string b) => Graph.Node("Mul", [a, b], name, name);
    public string GlobalAveragePool(string name, string x) => Graph.Node("GlobalAveragePool", [x], name, name);
    public string Flatten(string name, string x) => Graph.Node("Flatten", [x], name, name, Attr.Int("axis", 1));
    public string HardSigmoid(string name, string x) => Graph.Node("HardSigmoid", [x], name, name, Attr.Float("alpha", 1f / 6f), Attr.Float("beta", 0.5f));

    public string MaxPool(string name, string x, long kernel, long stride, long pad) =>
        Graph.Node("MaxPool", [x], name, name, Attr.Ints("kernel_shape", kernel, kernel), Attr.Ints("strides", stride, stride), Attr.Ints("pads", pad, pad, pad, pad));
}
