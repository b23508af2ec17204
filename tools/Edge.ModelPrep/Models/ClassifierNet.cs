using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>A classifier network: features, then global average pool and a linear head.</summary>
public abstract class ClassifierNet(string name, ArchSpec spec) : ExportableModule(name)
{
    public ArchSpec Spec { get; } = spec;

    /// <summary>The last convolutional feature map, [N, C, H, W]: what Grad-CAM weighs (forward = <see cref="Classify"/> of it).</summary>
    public abstract Tensor FeatureMap(Tensor x);

    /// <summary>Logits from a <see cref="FeatureMap"/>: global average pool and the head.</summary>
    public abstract Tensor Classify(Tensor featureMap);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return Classify(FeatureMap(x)).MoveToOuterDisposeScope();
    }

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
