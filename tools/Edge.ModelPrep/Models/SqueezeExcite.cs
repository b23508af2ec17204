using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>Squeeze-and-excite (MobileNetV3): global pool → 1x1 conv → ReLU → 1x1 conv → hard-sigmoid → scale.</summary>
public sealed class SqueezeExcite : ExportableModule, IChannelLayer
{
    private readonly Conv2d fc1, fc2;
    private readonly ChannelGroup _channels, _squeeze;

    /// <summary>Gates the channels of <paramref name="channels"/> through a bottleneck of <paramref name="squeeze"/> (its own group).</summary>
    public SqueezeExcite(ChannelGroup channels, ChannelGroup squeeze) : base(nameof(SqueezeExcite))
    {
        fc1 = Conv2d(channels.Count, squeeze.Count, 1);
        fc2 = Conv2d(squeeze.Count, channels.Count, 1);
        (_channels, _squeeze) = (channels, squeeze);
        RegisterComponents();
    }

    public IEnumerable<(string Tensor, ChannelGroup?[] Dims)> ChannelDims()
    {
        yield return ("fc1.weight", [_squeeze, _channels, null, null]);
        yield return ("fc1.bias", [_squeeze]);
        yield return ("fc2.weight", [_channels, _squeeze, null, null]);
        yield return ("fc2.bias", [_channels]);
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
