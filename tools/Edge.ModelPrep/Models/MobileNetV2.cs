using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>MobileNetV2 (Sandler et al. 2018), torchvision's layout: inverted residuals with linear bottlenecks.</summary>
public sealed class MobileNetV2 : ClassifierNet
{
    /// <summary>Inverted residual: 1x1 expand (ReLU6) → 3x3 depthwise (ReLU6) → 1x1 linear projection.</summary>
    private static ResidualBlock InvertedResidual(long inC, long outC, int stride, int expand)
    {
        var hidden = inC * expand;
        var list = new List<ExportableModule>();
        if (expand != 1) list.Add(new ConvBn(inC, hidden, 1, act: Activation.Relu6));
        list.Add(new ConvBn(hidden, hidden, 3, stride, groups: hidden, act: Activation.Relu6));
        list.Add(new ConvBn(hidden, outC, 1, act: Activation.None));
        return new ResidualBlock(list, residual: stride == 1 && inC == outC);
    }

    private readonly ModuleList<ExportableModule> features;
    private readonly Dropout dropout;
    private readonly Linear classifier;

    public MobileNetV2(ArchSpec spec) : base(nameof(MobileNetV2), spec)
    {
        // t (expansion), c (channels), n (repeats), s (stride) from the paper.
        int[][] settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];
        var keep = ArchSpec.KeepStrides(spec.InputSize, 5); // stem, 24, 32, 64, 160
        var input = ArchSpec.MakeDivisible(32 * spec.Width);
        var last = ArchSpec.MakeDivisible(1280 * Math.Max(1.0, spec.Width));
        var list = new List<ExportableModule> { new ConvBn(spec.Channels, input, 3, keep[0] ? 2 : 1, act: Activation.Relu6) };
        var strided = 1;
        foreach (var s in settings)
        {
            var output = ArchSpec.MakeDivisible(s[1] * spec.Width);
            var stride = s[3];
            if (stride == 2 && !keep[strided++]) stride = 1;
            for (var i = 0; i < s[2]; i++)
            {
                list.Add(InvertedResidual(input, output, i == 0 ? stride : 1, s[0]));
                input = output;
            }
        }
        list.Add(new ConvBn(input, last, 1, act: Activation.Relu6));
        features = ModuleList([.. list]);
        dropout = Dropout(spec.Dropout);
        classifier = Linear(last, spec.Classes);
        RegisterComponents();
        InitializeWeights();
    }

    public override Tensor FeatureMap(Tensor x) => Head.FeatureMap(features, x);

    public override Tensor Classify(Tensor featureMap) => Head.Classify(dropout, classifier, featureMap);

    public override string Export(OnnxEmitter e, string path, string x) => Head.Export(e, features, classifier, x);
}
