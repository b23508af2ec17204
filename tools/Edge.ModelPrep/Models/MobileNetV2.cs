using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>MobileNetV2 (Sandler et al. 2018), torchvision's layout: inverted residuals with linear bottlenecks.</summary>
public sealed class MobileNetV2 : ClassifierNet
{
    /// <summary>
    /// Inverted residual: 1x1 expand (ReLU6) → 3x3 depthwise (ReLU6) → 1x1 linear projection. The hidden
    /// channels are one group (expand writes them, depthwise keeps them, project reads them); without an
    /// expansion they are the input's. A residual add ties the output to the input's group; the hidden channels of a
    /// residual block may then be pruned to nothing, which leaves the block as its shortcut (no node exported).
    /// </summary>
    private static (ResidualBlock Block, ChannelGroup Output) InvertedResidual(ChannelGroups groups, string path, ChannelGroup input, int outC, int stride, int expand)
    {
        var residual = stride == 1 && input.Full == outC; // structure from the full widths: a plan never changes it
        var hidden = expand == 1 ? input : groups.Add($"{path}.hidden", input.Full * expand, removable: residual);
        var output = residual ? input : groups.Add($"{path}.out", outC);
        if (hidden.Dropped) return (new ResidualBlock([], residual: false), output);
        var list = new List<ExportableModule>();
        if (expand != 1) list.Add(new ConvBn(input, hidden, 1, act: Activation.Relu6));
        list.Add(new ConvBn(hidden, hidden, 3, stride, depthwise: true, act: Activation.Relu6));
        list.Add(new ConvBn(hidden, output, 1, act: Activation.None));
        return (new ResidualBlock(list, residual), output);
    }

    private readonly ModuleList<ExportableModule> features;
    private readonly Dropout dropout;
    private readonly Linear classifier;
    private readonly ChannelGroup _last;

    public MobileNetV2(ArchSpec spec) : base(nameof(MobileNetV2), spec)
    {
        // t (expansion), c (channels), n (repeats), s (stride) from the paper.
        int[][] settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];
        var keep = ArchSpec.KeepStrides(spec.InputSize, 5, spec.StemStride); // stem, 24, 32, 64, 160
        var groups = new ChannelGroups(spec);
        var input = groups.Add("features.0", ArchSpec.MakeDivisible(32 * spec.Width));
        var list = new List<ExportableModule> { new ConvBn(ChannelGroup.Fixed(spec.Channels), input, 3, keep[0] ? 2 : 1, act: Activation.Relu6) };
        var strided = 1;
        foreach (var s in settings)
        {
            var output = ArchSpec.MakeDivisible(s[1] * spec.Width);
            var stride = s[3];
            if (stride == 2 && !keep[strided++]) stride = 1;
            for (var i = 0; i < s[2]; i++)
            {
                (var block, input) = InvertedResidual(groups, $"features.{list.Count}", input, output, i == 0 ? stride : 1, s[0]);
                list.Add(block);
            }
        }
        _last = groups.Add($"features.{list.Count}", ArchSpec.MakeDivisible(1280 * Math.Max(1.0, spec.Width)));
        list.Add(new ConvBn(input, _last, 1, act: Activation.Relu6));
        Groups = groups.Complete();
        features = ModuleList([.. list]);
        dropout = Dropout(spec.Dropout);
        classifier = Linear(_last.Count, spec.Classes);
        RegisterComponents();
        InitializeWeights();
    }

    protected override IEnumerable<(string Tensor, ChannelGroup?[] Dims)> OwnChannelDims() => LinearDims("classifier", _last, null);

    public override Tensor FeatureMap(Tensor x) => Head.FeatureMap(features, x);

    public override Tensor Classify(Tensor featureMap) => Head.Classify(dropout, classifier, featureMap);

    public override string Export(OnnxEmitter e, string path, string x) => Head.Export(e, features, classifier, x);
}
