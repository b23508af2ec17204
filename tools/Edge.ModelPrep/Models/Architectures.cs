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

    public override Tensor forward(Tensor x) => Head.Forward(features, dropout, classifier, x);

    public override string Export(OnnxEmitter e, string path, string x) => Head.Export(e, features, classifier, x);
}

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

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = x;
        foreach (var f in features) y = f.call(y);
        y = functional.adaptive_avg_pool2d(y, 1).flatten(1);
        y = functional.hardswish(pre_classifier.call(y));
        return classifier.call(dropout.call(y)).MoveToOuterDisposeScope();
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

/// <summary>
/// ResNet with basic blocks (He et al. 2016): 18/34 with ImageNet's 7x7 stem and max-pool on large
/// inputs (a 3x3 stride-1 stem below 128 pixels), and the CIFAR ResNet-20 (16/32/64 channels).
/// Shortcuts that change shape are 1x1 convolutions (option B).
/// </summary>
public sealed class ResNet : ClassifierNet
{
    private sealed class BasicBlock : ExportableModule
    {
        private readonly ConvBn conv1, conv2;
        private readonly ConvBn? downsample;

        public BasicBlock(long inC, long outC, int stride) : base(nameof(BasicBlock))
        {
            conv1 = new ConvBn(inC, outC, 3, stride, act: Activation.Relu);
            conv2 = new ConvBn(outC, outC, 3, act: Activation.None);
            if (stride != 1 || inC != outC) downsample = new ConvBn(inC, outC, 1, stride, act: Activation.None);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            var b = conv2.call(conv1.call(x));
            return functional.relu(b + (downsample?.call(x) ?? x), inplace: true);
        }

        public override string Export(OnnxEmitter e, string path, string x)
        {
            var a = conv1.Export(e, $"{path}.conv1", x);
            var b = conv2.Export(e, $"{path}.conv2", a);
            var shortcut = downsample?.Export(e, $"{path}.downsample", x) ?? x;
            return e.Act($"{path}.relu", Activation.Relu, e.Add($"{path}.add", b, shortcut));
        }
    }

    private readonly ConvBn stem;
    private readonly MaxPool2d? maxpool;
    private readonly ModuleList<ExportableModule> blocks;
    private readonly Linear fc;

    public ResNet(ArchSpec spec, int[] depths, int baseWidth) : base(nameof(ResNet), spec)
    {
        int C(double c) => Math.Max(8, ArchSpec.MakeDivisible(c * spec.Width));
        var imagenetStem = depths.Length == 4 && (spec.ImagenetStem ?? spec.InputSize >= 128);
        var input = C(baseWidth);
        stem = imagenetStem ? new ConvBn(spec.Channels, input, 7, 2) : new ConvBn(spec.Channels, input, 3, 1);
        if (imagenetStem) maxpool = MaxPool2d(3, 2, 1);
        var list = new List<ExportableModule>();
        for (var stage = 0; stage < depths.Length; stage++)
        {
            var output = C(baseWidth << stage);
            for (var i = 0; i < depths[stage]; i++)
            {
                list.Add(new BasicBlock(input, output, i == 0 && stage > 0 ? 2 : 1));
                input = output;
            }
        }
        blocks = ModuleList([.. list]);
        fc = Linear(input, spec.Classes);
        RegisterComponents();
        InitializeWeights();
        // ResNet's linear layer keeps PyTorch's default (uniform ±1/√fan_in) rather than MobileNet's N(0, 0.01).
        using var _ = no_grad();
        var bound = 1 / Math.Sqrt(input);
        init.uniform_(fc.weight!, -bound, bound);
        init.uniform_(fc.bias!, -bound, bound);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return fc.call(Features(x)).MoveToOuterDisposeScope(); // torchvision's ResNets have no dropout
    }

    /// <summary>The globally pooled features before the classifier ([N, 512] for ResNet-18).</summary>
    public Tensor Features(Tensor x)
    {
        var y = stem.call(x);
        if (maxpool is not null) y = maxpool.call(y);
        foreach (var b in blocks) y = b.call(y);
        return functional.adaptive_avg_pool2d(y, 1).flatten(1);
    }

    /// <summary>The classifier's parameters (trained alone first when starting from a pretrained backbone).</summary>
    public IEnumerable<TorchSharp.Modules.Parameter> HeadParameters => fc.parameters();

    public override string Export(OnnxEmitter e, string path, string x)
    {
        var y = stem.Export(e, "stem", x);
        if (maxpool is not null) y = e.MaxPool("maxpool", y, 3, 2, 1);
        for (var i = 0; i < blocks.Count; i++) y = blocks[i].Export(e, $"blocks.{i}", y);
        y = e.Flatten("flatten", e.GlobalAveragePool("pool", y));
        return e.Linear("fc", fc, y);
    }
}

/// <summary>Layers in sequence with an identity shortcut when shapes allow (the MobileNet blocks).</summary>
public sealed class ResidualBlock : ExportableModule
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
    public override Tensor forward(Tensor x)
    {
        var y = x;
        foreach (var l in layers) y = l.call(y);
        return _residual ? y + x : y;
    }

    public override string Export(OnnxEmitter e, string path, string x)
    {
        var y = x;
        for (var i = 0; i < layers.Count; i++) y = layers[i].Export(e, $"{path}.layers.{i}", y);
        return _residual ? e.Add($"{path}.add", y, x) : y;
    }
}

/// <summary>The shared MobileNetV2 head: features → global average pool → dropout → linear.</summary>
internal static class Head
{
    public static Tensor Forward(ModuleList<ExportableModule> features, Dropout dropout, Linear classifier, Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = x;
        foreach (var f in features) y = f.call(y);
        y = functional.adaptive_avg_pool2d(y, 1).flatten(1);
        return classifier.call(dropout.call(y)).MoveToOuterDisposeScope();
    }

    public static string Export(OnnxEmitter e, ModuleList<ExportableModule> features, Linear classifier, string x)
    {
        var y = x;
        for (var i = 0; i < features.Count; i++) y = features[i].Export(e, $"features.{i}", y);
        y = e.Flatten("flatten", e.GlobalAveragePool("pool", y));
        return e.Linear("classifier", classifier, y);
    }
}
