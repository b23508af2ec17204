using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>A layer that can write its own ONNX nodes (the exporter cannot trace C# code).</summary>
public abstract class ExportableModule(string name) : Module<Tensor, Tensor>(name)
{
    /// <summary>Emits this layer's nodes reading <paramref name="x"/> and returns its output name; <paramref name="path"/> names the nodes.</summary>
    public abstract string Export(OnnxEmitter e, string path, string x);
}

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

/// <summary>Squeeze-and-excite (MobileNetV3): global pool → 1x1 conv → ReLU → 1x1 conv → hard-sigmoid → scale.</summary>
public sealed class SqueezeExcite : ExportableModule
{
    private readonly Conv2d fc1, fc2;

    public SqueezeExcite(long channels, long squeeze) : base(nameof(SqueezeExcite))
    {
        fc1 = Conv2d(channels, squeeze, 1);
        fc2 = Conv2d(squeeze, channels, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var s = functional.adaptive_avg_pool2d(x, 1);
        return x * functional.hardsigmoid(fc2.call(functional.relu(fc1.call(s))));
    }

    public override string Export(OnnxEmitter e, string path, string x)
    {
        var s = e.GlobalAveragePool($"{path}.pool", x);
        var a = e.Conv($"{path}.fc1", fc1, null, Activation.Relu, s);
        var b = e.Conv($"{path}.fc2", fc2, null, Activation.None, a);
        return e.Mul($"{path}.scale", x, e.HardSigmoid($"{path}.gate", b));
    }
}

/// <summary>A classifier network: features, then global average pool and a linear head.</summary>
public abstract class ClassifierNet(string name, ArchSpec spec) : ExportableModule(name)
{
    public ArchSpec Spec { get; } = spec;

    /// <summary>Kaiming-normal convolutions (fan-out, as torchvision), unit BatchNorm, small normal linear layers.</summary>
    protected void InitializeWeights()
    {
        using var _ = no_grad();
        foreach (var (_, m) in named_modules())
        {
            switch (m)
            {
                case Conv2d c:
                    init.kaiming_normal_(c.weight!, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
                    if (c.bias is not null) init.zeros_(c.bias);
                    break;
                case BatchNorm2d b:
                    init.ones_(b.weight!);
                    init.zeros_(b.bias!);
                    break;
                case Linear l:
                    init.normal_(l.weight!, 0, 0.01);
                    if (l.bias is not null) init.zeros_(l.bias);
                    break;
            }
        }
    }
}
