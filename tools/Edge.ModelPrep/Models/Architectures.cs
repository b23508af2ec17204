using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

public static class Architectures
{
    /// <summary>Builds the network <paramref name="spec"/> names, freshly initialised from the current torch seed.</summary>
    public static ClassifierNet Create(ArchSpec spec)
    {
        spec.Validate();
        return spec.Arch switch
        {
            "mobilenetv2" => new MobileNetV2(spec),
            "mobilenetv3-small" => new MobileNetV3Small(spec),
            "resnet18" => new ResNet(spec, spec.Depths([2, 2, 2, 2]), 64),
            "resnet34" => new ResNet(spec, spec.Depths([3, 4, 6, 3]), 64),
            "resnet20" => new ResNet(spec, spec.Depths([3, 3, 3]), 16),
            _ => throw new ArgumentException($"unknown architecture '{spec.Arch}'"),
        };
    }
}
