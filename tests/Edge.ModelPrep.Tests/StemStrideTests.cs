using Edge.Cli;
using Edge.ModelPrep.Export;
using Edge.ModelPrep.Models;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Tests;

/// <summary><c>--stem-stride</c>: the first convolution's stride, with the later stages giving way to keep the last map at least 4x4.</summary>
public class StemStrideTests
{
    private static long[] LastMap(ArchSpec spec)
    {
        using var net = Architectures.Create(spec);
        net.eval();
        using var _ = no_grad();
        using var x = zeros(1, spec.Channels, spec.InputSize, spec.InputSize);
        using var y = net.FeatureMap(x);
        return y.shape;
    }

    private static ArchSpec Spec(string arch, double width, int size, int? stemStride) =>
        new() { Arch = arch, Width = width, InputSize = size, Channels = 1, Classes = 10, StemStride = stemStride };

    [Test]
    public void AStrideTwoStemHalvesEveryMapOfAResNet20()
    {
        // 28 → 14 (stem) → 14, 7, 4 (stages); without it 28, 14, 7.
        Assert.That(LastMap(Spec("resnet20", 1.0, 28, 2)), Is.EqualTo(new long[] { 1, 64, 4, 4 }));
        Assert.That(LastMap(Spec("resnet20", 1.0, 28, null)), Is.EqualTo(new long[] { 1, 64, 7, 7 }));
        Assert.That(LastMap(Spec("resnet20", 1.0, 28, 1)), Is.EqualTo(new long[] { 1, 64, 7, 7 }));
        // MACs as PyTorch's forward hooks count the same network (torch.nn.Conv2d/Linear, built alike).
        using var strided = Architectures.Create(Spec("resnet20", 1.0, 28, 2));
        using var plain = Architectures.Create(Spec("resnet20", 1.0, 28, null));
        Assert.That(ModelExporter.CountMacs(strided), Is.EqualTo(8_523_968));
        Assert.That(ModelExporter.CountMacs(plain), Is.EqualTo(31_021_952));
    }

    [Test]
    public void AStemStrideGivesAResNet18TheSmallStemAtAnySize()
    {
        // 128 pixels: the ImageNet stem (7x7/2 and a max-pool) on its own → 128/4/8 = 4x4; with --stem-stride 2 the
        // 3x3/2 stem → 64, then the stages 64, 32, 16, 8 → 8x8; --stem-stride 1 → 16x16.
        var spec = new ArchSpec { Arch = "resnet18", Width = 0.25, InputSize = 128, Channels = 3, Classes = 10 };
        Assert.That(LastMap(spec)[2..], Is.EqualTo(new long[] { 4, 4 }));
        Assert.That(LastMap(spec with { StemStride = 2 })[2..], Is.EqualTo(new long[] { 8, 8 }));
        Assert.That(LastMap(spec with { StemStride = 1 })[2..], Is.EqualTo(new long[] { 16, 16 }));
    }

    [Test]
    public void TheMobileNetsKeepAStemStrideAskedForAndLaterStagesGiveWay()
    {
        // At 28 pixels MobileNetV2 on its own makes its stem and first strided stage stride 1 (28, 28, 14, 7, 4 → 4x4).
        Assert.That(ArchSpec.KeepStrides(28, 5), Is.EqualTo(new[] { false, false, true, true, true }));
        // Stem stride 2 asked for: it holds, the next two strided stages give way (14, 14, 14, 7, 4 → 4x4).
        Assert.That(ArchSpec.KeepStrides(28, 5, 2), Is.EqualTo(new[] { true, false, false, true, true }));
        Assert.That(LastMap(Spec("mobilenetv2", 0.5, 28, 2))[2..], Is.EqualTo(new long[] { 4, 4 }));
        Assert.That(LastMap(Spec("mobilenetv3-small", 0.75, 28, 2))[2..], Is.EqualTo(new long[] { 4, 4 }));
        // Stride 1 asked for at 224: the stem keeps full resolution and nothing else changes (224 → 14x14, not 7x7).
        Assert.That(ArchSpec.KeepStrides(224, 5, 1), Is.EqualTo(new[] { false, true, true, true, true }));
        Assert.That(LastMap(Spec("mobilenetv2", 0.35, 224, 1))[2..], Is.EqualTo(new long[] { 14, 14 }));
    }

    [Test]
    public void AStemStrideOtherThanOneOrTwoIsRefusedByName()
    {
        Assert.That(() => Spec("resnet20", 1.0, 28, 3).Validate(), Throws.TypeOf<CliError>().With.Message.EqualTo("--stem-stride 3: expected 1 or 2"));
        Assert.That(() => (Spec("resnet18", 1.0, 224, 2) with { ImagenetStem = true }).Validate(), Throws.TypeOf<CliError>().With.Message.Contains("ImageNet stem"));
        Assert.That(Spec("resnet20", 1.0, 28, 2).Describe(), Does.Contain("stem/2"));
    }
}
