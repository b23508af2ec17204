using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>Conv2d without bias → BatchNorm2d → activation: the unit every architecture is built from.</summary>
public sealed class ConvBn : ExportableModule
{
    private readonly Conv2d conv;
    private readonly BatchNorm2d bn;
    private readonly Activation _act;

    public ConvBn(long inChannels, long outChannels, int kernel, int stride = 1, long groups = 1, Activation act = Activation.Relu)
        : base(nameof(ConvBn))
    {
        conv = Conv2d(inChannels, outChannels, kernel, stride: stride, padding: kernel / 2, groups: groups, bias: false);
        bn = BatchNorm2d(outChannels);
        _act = act;
        RegisterComponents();
    }

    public long OutChannels => conv.out_channels;

    public override Tensor forward(Tensor x) => Apply(_act, bn.call(conv.call(x)));

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
