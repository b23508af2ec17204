using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

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
