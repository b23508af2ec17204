using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>A classifier network: features, then global average pool and a linear head.</summary>
public abstract class ClassifierNet(string name, ArchSpec spec) : ExportableModule(name)
{
    public ArchSpec Spec { get; } = spec;

    /// <summary>The channel groups in plan order (what <see cref="ArchSpec.Plan"/> counts), set by the constructor.</summary>
    public IReadOnlyList<ChannelGroup> Groups { get; protected set; } = [];

    /// <summary>The channel dimensions of the tensors the network holds itself (its linear layers); layers say their own.</summary>
    protected abstract IEnumerable<(string Tensor, ChannelGroup?[] Dims)> OwnChannelDims();

    /// <summary>
    /// Every tensor of the state dictionary that has a channel dimension, by its full name, with the group of
    /// each dimension: the dependency graph structured pruning cuts along.
    /// </summary>
    public IEnumerable<(string Tensor, ChannelGroup?[] Dims)> ChannelDims()
    {
        foreach (var d in OwnChannelDims()) yield return d;
        foreach (var (path, m) in named_modules())
            if (m is IChannelLayer layer)
                foreach (var (t, dims) in layer.ChannelDims()) yield return ($"{path}.{t}", dims);
    }

    /// <summary>A linear layer's weight and bias reading <paramref name="input"/> and writing <paramref name="output"/> (null: the classes).</summary>
    protected static IEnumerable<(string Tensor, ChannelGroup?[] Dims)> LinearDims(string name, ChannelGroup input, ChannelGroup? output)
    {
        yield return ($"{name}.weight", [output, input]);
        yield return ($"{name}.bias", [output]);
    }

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
