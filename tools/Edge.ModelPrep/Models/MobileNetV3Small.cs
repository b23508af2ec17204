using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>MobileNetV3-Small (Howard et al. 2019), torchvision's layout: hard-swish, squeeze-excite.</summary>
public sealed class MobileNetV3Small : ClassifierNet
{
    /// <summary>Bottleneck: 1x1 expand → kxk depthwise → optional squeeze-excite → 1x1 linear projection.</summary>
    private static ResidualBlock Block(long inC, int kernel, long expanded, long outC, bool se, Activation act, int stride)
    {
        var list = new List<ExportableModule>();
        if (expanded != inC) list.Add(new ConvBn(inC, expanded, 1, act: act));
        list.Add(new ConvBn(expanded, expanded, kernel, stride, groups: expanded, act: act));
        if (se) list.Add(new SqueezeExcite(expanded, ArchSpec.MakeDivisible(expanded / 4.0)));
        list.Add(new ConvBn(expanded, outC, 1, act: Activation.None));
        return new ResidualBlock(list, residual: stride == 1 && inC == outC);
    }

    private readonly ModuleList<ExportableModule> features;
    private readonly Linear pre_classifier;
    private readonly Dropout dropout;
    private readonly Linear classifier;

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
        var keep = ArchSpec.KeepStrides(spec.InputSize, 5); // stem and the four stride-2 blocks
        int C(double c) => ArchSpec.MakeDivisible(c * spec.Width);
        var input = C(16);
        var list = new List<ExportableModule> { new ConvBn(spec.Channels, input, 3, keep[0] ? 2 : 1, act: HS) };
        var strided = 1;
        foreach (var s in settings)
        {
            var stride = s.S;
            if (stride == 2 && !keep[strided++]) stride = 1;
            list.Add(Block(input, s.K, C(s.Exp), C(s.Out), s.Se, s.Act, stride));
            input = C(s.Out);
        }
        var lastConv = 6 * input;
        list.Add(new ConvBn(input, lastConv, 1, act: HS));
        features = ModuleList([.. list]);
        var hidden = ArchSpec.MakeDivisible(1024 * spec.Width);
        pre_classifier = Linear(lastConv, hidden);
        dropout = Dropout(spec.Dropout);
        classifier = Linear(hidden, spec.Classes);
        RegisterComponents();
        InitializeWeights();
    }

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
