using TorchSharp;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Models;

/// <summary>A ResNet with basic blocks read from an ONNX graph: the stem, then each block's convolutions.</summary>
public sealed record ResNetWeights(string Source, int[] Depths, ConvBnWeights Stem, IReadOnlyList<(ConvBnWeights Conv1, ConvBnWeights Conv2, ConvBnWeights? Downsample)> Blocks)
{
    /// <summary>The architecture that has these blocks: resnet34 for 3,4,6,3, else resnet18 with its blocks per stage stated.</summary>
    public ArchSpec Spec(int inputSize, int classes) => new()
    {
        Arch = Depths.SequenceEqual([3, 4, 6, 3]) ? "resnet34" : "resnet18",
        Blocks = Depths.SequenceEqual([2, 2, 2, 2]) || Depths.SequenceEqual([3, 4, 6, 3]) ? null : string.Join(",", Depths),
        InputSize = inputSize, Channels = 3, Classes = classes, ImagenetStem = true,
    };
}
