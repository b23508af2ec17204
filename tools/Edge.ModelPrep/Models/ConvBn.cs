using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>
/// Conv2d without bias → BatchNorm2d → activation: the unit every architecture is built from. It reads the
/// channels of one group and writes those of another (a depthwise convolution reads and writes one group).
/// </summary>
public sealed class ConvBn : ExportableModule, IChannelLayer, Qat.IFakeQuantized
{
    private readonly Conv2d conv;
    private readonly BatchNorm2d bn;
    private readonly Activation _act;
    private readonly ChannelGroup _input, _output;
    private readonly bool _depthwise;

    public ConvBn(ChannelGroup input, ChannelGroup output, int kernel, int stride = 1, bool depthwise = false, Activation act = Activation.Relu)
        : base(nameof(ConvBn))
    {
        if (depthwise && input != output) throw new ArgumentException("a depthwise convolution reads and writes the same channel group");
        conv = Conv2d(input.Count, output.Count, kernel, stride: stride, padding: kernel / 2, groups: depthwise ? output.Count : 1, bias: false);
        bn = BatchNorm2d(output.Count);
        (_input, _output, _depthwise, _act) = (input, output, depthwise, act);
        RegisterComponents();
    }

    public IEnumerable<(string Tensor, ChannelGroup?[] Dims)> ChannelDims()
    {
        yield return ("conv.weight", [_output, _depthwise ? null : _input, null, null]);
        foreach (var t in new[] { "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var" }) yield return (t, [_output]);
    }

    private Qat.ActivationObserver? _quantized;

    /// <summary>
    /// Quantization-aware training: BatchNorm folded into the convolution with its statistics frozen (as export
    /// folds it), the folded weights fake-quantized per channel, the activated output per tensor.
    /// </summary>
    public void EnableFakeQuant() => _quantized ??= new Qat.ActivationObserver();

    public override Tensor forward(Tensor x) =>
        _quantized is { } observer ? observer.Apply(Apply(_act, FoldedConv(x)), training) : Apply(_act, bn.call(conv.call(x)));

    private Tensor FoldedConv(Tensor x)
    {
        var gain = bn.weight! / (bn.running_var! + bn.eps).sqrt();
        var w = conv.weight! * gain.reshape(-1, 1, 1, 1);
        var b = bn.bias! - bn.running_mean! * gain;
        return functional.conv2d(x, Qat.FakeQuant.Weights(w), b, conv.stride, conv.padding!, conv.dilation, conv.groups);
    }

    public override string Export(OnnxEmitter e, string path, string x) => e.Conv(path, conv, bn, _act, x);

    // In place where autograd allows it (ReLU's backward needs only its output), as torchvision does:
    // one activation map fewer per layer kept for the backward pass (training memory -1/3).
    internal static Tensor Apply(Activation act, Tensor x) => act switch
    {
        Activation.None => x,
        Activation.Relu => functional.relu(x, inplace: true),
        Activation.Relu6 => functional.relu6(x, inplace: true),
        Activation.HardSwish => functional.hardswish(x),
        _ => throw new ArgumentOutOfRangeException(nameof(act)),
    };
}
