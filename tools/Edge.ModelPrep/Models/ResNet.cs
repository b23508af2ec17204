using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>
/// ResNet with basic blocks (He et al. 2016): 18/34 with ImageNet's 7x7 stem and max-pool on large
/// inputs (a 3x3 stride-1 stem below 128 pixels), and the CIFAR ResNet-20 (16/32/64 channels).
/// Shortcuts that change shape are 1x1 convolutions (option B).
/// </summary>
public sealed class ResNet : ClassifierNet
{
    private sealed class BasicBlock : ExportableModule, Qat.IFakeQuantized
    {
        private readonly ConvBn? conv1, conv2;
        private readonly ConvBn? downsample;

        /// <summary>
        /// Two 3x3 convolutions and a shortcut. The channels between the convolutions are a group of their own;
        /// an identity shortcut ties the output to the input's group, a 1x1 shortcut starts a new one. With an identity
        /// shortcut the inner group may be pruned to nothing: the block is then its input (which a ReLU made
        /// non-negative, so the ReLU after the add changes nothing) and exports no node.
        /// </summary>
        public BasicBlock(ChannelGroups groups, string path, ChannelGroup input, int outC, int stride) : base(nameof(BasicBlock))
        {
            var identity = stride == 1 && input.Full == outC;
            var inner = groups.Add($"{path}.inner", outC, removable: identity);
            Output = identity ? input : groups.Add($"{path}.out", outC);
            if (!inner.Dropped)
            {
                conv1 = new ConvBn(input, inner, 3, stride, act: Activation.Relu);
                conv2 = new ConvBn(inner, Output, 3, act: Activation.None);
            }
            if (!identity) downsample = new ConvBn(input, Output, 1, stride, act: Activation.None);
            RegisterComponents();
        }

        public ChannelGroup Output { get; }

        private Qat.ActivationObserver? _quantized;

        /// <summary>The block's output (add, ReLU) is a tensor of its own in the INT8 model: quantized too (not a dropped block's: it has none).</summary>
        public void EnableFakeQuant()
        {
            if (conv2 is not null) _quantized ??= new Qat.ActivationObserver();
        }

        public override Tensor forward(Tensor x)
        {
            if (conv1 is null || conv2 is null) return x;
            var b = conv2.call(conv1.call(x));
            var y = functional.relu(b + (downsample?.call(x) ?? x), inplace: true);
            return _quantized is { } observer ? observer.Apply(y, training) : y;
        }

        public override string Export(OnnxEmitter e, string path, string x)
        {
            if (conv1 is null || conv2 is null) return x;
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
    private readonly ChannelGroup _last;

    public ResNet(ArchSpec spec, int[] depths, int baseWidth) : base(nameof(ResNet), spec)
    {
        int C(double c) => Math.Max(8, ArchSpec.MakeDivisible(c * spec.Width));
        // A stem stride asked for means the small 3x3 stem, whatever the input size.
        var imagenetStem = depths.Length == 4 && (spec.ImagenetStem ?? (spec.StemStride is null && spec.InputSize >= 128));
        var groups = new ChannelGroups(spec);
        var input = groups.Add("stem", C(baseWidth));
        var image = ChannelGroup.Fixed(spec.Channels);
        stem = imagenetStem ? new ConvBn(image, input, 7, 2) : new ConvBn(image, input, 3, spec.StemStride ?? 1);
        if (imagenetStem) maxpool = MaxPool2d(3, 2, 1);
        var list = new List<ExportableModule>();
        for (var stage = 0; stage < depths.Length; stage++)
        {
            var output = C(baseWidth << stage);
            for (var i = 0; i < depths[stage]; i++)
            {
                var block = new BasicBlock(groups, $"blocks.{list.Count}", input, output, i == 0 && stage > 0 ? 2 : 1);
                list.Add(block);
                input = block.Output;
            }
        }
        _last = input;
        Groups = groups.Complete();
        blocks = ModuleList([.. list]);
        fc = Linear(_last.Count, spec.Classes);
        RegisterComponents();
        InitializeWeights();
        // ResNet's linear layer keeps PyTorch's default (uniform ±1/√fan_in) rather than MobileNet's N(0, 0.01).
        using var _ = no_grad();
        var bound = 1 / Math.Sqrt(_last.Count);
        init.uniform_(fc.weight!, -bound, bound);
        init.uniform_(fc.bias!, -bound, bound);
    }

    protected override IEnumerable<(string Tensor, ChannelGroup?[] Dims)> OwnChannelDims() => LinearDims("fc", _last, null);

    public override Tensor FeatureMap(Tensor x)
    {
        var y = stem.call(x);
        if (maxpool is not null) y = maxpool.call(y);
        foreach (var b in blocks) y = b.call(y);
        return y;
    }

    public override Tensor Classify(Tensor featureMap) => fc.call(Pool(featureMap)); // torchvision's ResNets have no dropout

    /// <summary>The globally pooled features before the classifier ([N, 512] for ResNet-18).</summary>
    public Tensor Features(Tensor x) => Pool(FeatureMap(x));

    private static Tensor Pool(Tensor featureMap) => functional.adaptive_avg_pool2d(featureMap, 1).flatten(1);

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
