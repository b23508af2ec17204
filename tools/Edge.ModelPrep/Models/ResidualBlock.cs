using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>Layers in sequence with an identity shortcut when shapes allow (the MobileNet blocks).</summary>
public sealed class ResidualBlock : ExportableModule, Qat.IFakeQuantized
{
    private readonly ModuleList<ExportableModule> layers;
    private readonly bool _residual;

    public ResidualBlock(List<ExportableModule> list, bool residual) : base(nameof(ResidualBlock))
    {
        layers = ModuleList([.. list]);
        _residual = residual;
        RegisterComponents();
    }

    // Intermediate tensors are freed by the caller's dispose scope (autograd keeps its own references).
    private Qat.ActivationObserver? _quantized;

    /// <summary>The residual sum is a tensor of its own in the INT8 model: quantized too.</summary>
    public void EnableFakeQuant()
    {
        if (_residual) _quantized ??= new Qat.ActivationObserver();
    }

    public override Tensor forward(Tensor x)
    {
        var y = x;
        foreach (var l in layers) y = l.call(y);
        if (!_residual) return y;
        return _quantized is { } observer ? observer.Apply(y + x, training) : y + x;
    }

    public override string Export(OnnxEmitter e, string path, string x)
    {
        var y = x;
        for (var i = 0; i < layers.Count; i++) y = layers[i].Export(e, $"{path}.layers.{i}", y);
        return _residual ? e.Add($"{path}.add", y, x) : y;
    }
}
