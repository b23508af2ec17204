using Edge.Host.Datasets;
using Edge.Core.Imaging;
using Edge.ModelPrep.Export;
using Edge.ModelPrep.Models;
using Edge.Onnx.Metadata;
using Edge.Onnx.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Tests;

/// <summary>Our own ONNX export of every architecture against TorchSharp's forward, ONNX's checker and the MAC count.</summary>
public class ExportTests
{
    /// <summary>
    /// Gives the network what training would: BatchNorm statistics measured on real images and
    /// non-trivial affine terms, so that folding is exercised (a fresh BatchNorm is the identity).
    /// </summary>
    internal static void SettleBatchNorm(ClassifierNet net, float[] images, int count, int seed)
    {
        manual_seed(seed);
        var s = net.Spec;
        using var _ = no_grad();
        // Scalars held for the whole loop: TorchSharp's Tensor + double makes a temporary Scalar that the GC may
        // finalize while the native add still reads it (seen once in CI: "toDouble: Expected false to be true").
        using var half = (TorchSharp.Scalar)0.5;
        using var fifth = (TorchSharp.Scalar)0.2;
        foreach (var (_, m) in net.named_modules())
        {
            if (m is not BatchNorm2d bn) continue;
            using var weight = rand_like(bn.weight!).add_(half);
            using var bias = randn_like(bn.bias!).mul_(fifth);
            bn.weight!.copy_(weight);
            bn.bias!.copy_(bias);
            bn.momentum = 1.0; // running statistics = this batch's
        }
        net.train();
        using (var scope = NewDisposeScope())
            net.call(tensor(images, [count, s.Channels, s.InputSize, s.InputSize]));
        net.eval();
    }

    internal static ExportInfo Info(ArchSpec spec) => new(
        [.. Enumerable.Range(0, spec.Classes).Select(i => $"class{i}")],
        new PreprocessingSpec
        {
            Width = spec.InputSize, Height = spec.InputSize, Color = spec.Channels == 1 ? ColorOrder.Gray : ColorOrder.Rgb,
            Resize = ResizeMode.Squash, Mean = spec.Channels == 1 ? [0.5f] : [0.5f, 0.5f, 0.5f], Std = spec.Channels == 1 ? [0.25f] : [0.25f, 0.25f, 0.25f],
        },
        "test", null);

    /// <summary>Real inputs: Fashion-MNIST test images, preprocessed by Edge.Core as the daemon does.</summary>
    private static float[] RealImages(ArchSpec spec, int count)
    {
        var set = IdxImageSet.FashionMnist("test");
        var pre = new Preprocessor(Info(spec).Preprocessing);
        var data = new float[count * pre.TensorLength];
        using var pixels = new PixelBuffer();
        using var decoder = new ImageDecoder();
        for (var i = 0; i < count; i++)
        {
            set.Load(i, decoder, pixels, default);
            pre.Run(pixels.View, data.AsSpan(i * pre.TensorLength, pre.TensorLength));
        }
        return data;
    }

    /// <summary>Every architecture at widths, sizes, channel counts and stem strides (0: its own) that change its structure (also pruning's cases).</summary>
    internal static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData("mobilenetv2", 0.5, 28, 1, 0);
        yield return new TestCaseData("mobilenetv2", 1.0, 32, 3, 0);
        yield return new TestCaseData("mobilenetv2", 0.35, 96, 3, 0);
        yield return new TestCaseData("mobilenetv3-small", 0.75, 28, 1, 0);
        yield return new TestCaseData("mobilenetv3-small", 1.0, 64, 3, 0);
        yield return new TestCaseData("resnet18", 0.25, 32, 1, 0);
        yield return new TestCaseData("resnet18", 0.25, 128, 3, 0);
        yield return new TestCaseData("resnet34", 0.25, 32, 3, 0);
        yield return new TestCaseData("resnet20", 1.0, 28, 1, 0);
        yield return new TestCaseData("resnet20", 2.0, 32, 3, 0);
        // --stem-stride 2: the first convolution strided, the later stages giving way.
        yield return new TestCaseData("resnet20", 1.5, 28, 1, 2);
        yield return new TestCaseData("mobilenetv2", 0.5, 28, 1, 2);
    }

    [Category(Needs.FashionMnist), Category(Needs.Python)]
    [TestCaseSource(nameof(Cases))]
    public void ExportMatchesTorchSharpPassesTheCheckerAndCountsTheSameMacs(string arch, double width, int size, int channels, int stemStride)
    {
        manual_seed(1);
        var spec = new ArchSpec { Arch = arch, Width = width, InputSize = size, Channels = channels, Classes = 10, StemStride = stemStride == 0 ? null : stemStride };
        using var net = Architectures.Create(spec);
        var images = RealImages(spec, 32);
        SettleBatchNorm(net, images, 32, 2);
        var model = ModelExporter.ToOnnx(net, Info(spec));

        var parity = ModelExporter.CheckParity(net, model, images, 32, randomInputs: 8);
        TestContext.Out.WriteLine($"{spec.Describe()}: max |onnx - torch| = {parity.MaxAbsDiff:g3}, random {parity.MaxScaledDiffRandom:g3}");
        Assert.That(parity.MaxAbsDiff, Is.LessThanOrEqualTo(ParityResult.Tolerance), $"max |onnx - torch| = {parity.MaxAbsDiff:g3}");
        Assert.That(parity.MaxScaledDiffRandom, Is.LessThanOrEqualTo(ParityResult.Tolerance));
        Assert.That(parity.Passed);
        Assert.That(parity.Top1Disagreements, Is.Zero);

        using var dir = new TempDir();
        var path = TestModels.Save(model, dir.File("m.onnx"));
        Python.CheckModel(path);

        var report = ModelInspector.Inspect(model);
        Assert.That(report.LayersWithUnknownMacs, Is.Zero);
        Assert.That(report.TotalMacs, Is.EqualTo(ModelExporter.CountMacs(net)));
        Assert.That(report.Operators.Keys, Does.Not.Contain("BatchNormalization"), "BatchNorm is folded into the convolutions");
        Assert.That(report.Opsets.Values, Has.Some.EqualTo(17));
        Assert.That(report.Inputs[0].Dims[0], Is.EqualTo("batch"));
        Assert.That(report.Metadata[ModelMetadataKeys.Macs], Is.EqualTo(report.TotalMacs.ToString()));
    }
}
