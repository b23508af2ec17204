using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>MobileNetV3-Small (Howard et al. 2019), torchvision's layout: hard-swish, squeeze-excite.</summary>
public sealed class MobileNetV3Small : ClassifierNet
{
    /// <summary>
    /// Bottleneck: 1x1 expand → kxk depthwise → optional squeeze-excite → 1x1 linear projection. The expanded
    /// channels are one group (the input's when there is no expansion); squeeze-excite gates them through a
    /// group of its own; a residual add ties the output to the input's group.
    /// </summary>
    private static (ResidualBlock Block, ChannelGroup Output) Block(ChannelGroups groups, string path, ChannelGroup input, int kernel, int expandedC, int outC, bool se, Activation act, int stride)
    {
        var residual = stride == 1 && input.Full == outC;
        var expanded = expandedC == input.Full ? input : groups.Add($"{path}.expanded", expandedC);
        var list = new List<ExportableModule>();
        if (expanded != input) list.Add(new ConvBn(input, expanded, 1, act: act));
        list.Add(new ConvBn(expanded, expanded, kernel, stride, depthwise: true, act: act));
        if (se) list.Add(new SqueezeExcite(expanded, groups.Add($"{path}.squeeze", ArchSpec.MakeDivisible(expandedC / 4.0))));
        var output = residual ? input : groups.Add($"{path}.out", outC);
        list.Add(new ConvBn(expanded, output, 1, act: Activation.None));
        return (new ResidualBlock(list, residual), output);
    }

    private readonly ModuleList<ExportableModule> features;
    private readonly Linear pre_classifier;
    private readonly Dropout dropout;
    private readonly Linear classifier;
    private readonly ChannelGroup _lastConv, _hidden;

    public MobileNetV3Small(ArchSpec spec) : base(nameof(MobileNetV3Small), spec)
    {
        const Activation RE = Activation.Relu, HS = Activation.HardSwish;
        // kernel, expanded, out, squeeze-excite, activation, stride (torchvision's mobilenet_v3_small).
        (int K, int Exp, int Out, bool Se, Activation Act, int S)[] settings =
        [
            (3, 16, 16, true, RE, 2), (3, 72, 24, false, RE, 2), (3, 88, 24, false, RE, 1),
            (5, 96, 40, true, HS, 2), (5, 240, 40, true, HS, 1), (5, 240, 40, true, HS, 1),
            (5, 120, 48, true, HS, 1), (5, 144, 48, true, HS, 1),
            (5, 288, 96, true, HS, 2), (5, 576, 96, true, HS, 1), (5, 576, 96, true, HS, 1),
        ];
        var keep = ArchSpec.KeepStrides(spec.InputSize, 5, spec.StemStride); // stem and the four stride-2 blocks
        int C(double c) => ArchSpec.MakeDivisible(c * spec.Width);
        var groups = new ChannelGroups(spec);
        var input = groups.Add("features.0", C(16));
        var list = new List<ExportableModule> { new ConvBn(ChannelGroup.Fixed(spec.Channels), input, 3, keep[0] ? 2 : 1, act: HS) };
        var strided = 1;
        foreach (var s in settings)
        {
            var stride = s.S;
            if (stride == 2 && !keep[strided++]) stride = 1;
            (var block, input) = Block(groups, $"features.{list.Count}", input, s.K, C(s.Exp), C(s.Out), s.Se, s.Act, stride);
            list.Add(block);
        }
        _lastConv = groups.Add($"features.{list.Count}", 6 * input.Full);
        list.Add(new ConvBn(input, _lastConv, 1, act: HS));
        _hidden = groups.Add("pre_classifier", ArchSpec.MakeDivisible(1024 * spec.Width));
        Groups = groups.Complete();
        features = ModuleList([.. list]);
        pre_classifier = Linear(_lastConv.Count, _hidden.Count);
        dropout = Dropout(spec.Dropout);
        classifier = Linear(_hidden.Count, spec.Classes);
        RegisterComponents();
        InitializeWeights();
    }

    protected override IEnumerable<(string Tensor, ChannelGroup?[] Dims)> OwnChannelDims() =>
        LinearDims("pre_classifier", _lastConv, _hidden).Concat(LinearDims("classifier", _hidden, null));

    public override Tensor FeatureMap(Tensor x) => Head.FeatureMap(features, x);

    public override Tensor Classify(Tensor featureMap)
    {
        var y = functional.adaptive_avg_pool2d(featureMap, 1).flatten(1);
        y = functional.hardswish(pre_classifier.call(y));
        return classifier.call(dropout.call(y));
    }

    public override string Export(OnnxEmitter e, string path, string x)
    {
        var y = x;
        for (var i = 0; i < features.Count; i++) y = features[i].Export(e, $"features.{i}", y);
        y = e.Flatten("flatten", e.GlobalAveragePool("pool", y));
        y = e.Act("pre_classifier.act", Activation.HardSwish, e.Linear("pre_classifier", pre_classifier, y));
        return e.Linear("classifier", classifier, y);
    }
}
