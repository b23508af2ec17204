using System.Runtime.InteropServices;
using Edge.Core.Inference;
using Edge.Onnx.Model;

namespace Edge.Core.Tests;

public class Int8KernelsTests
{
    private static readonly string ShippedInt8 = Path.Combine(RepoPaths.Models, "fashion-mnist-resnet20-pruned.int8.onnx");

    /// <summary>Our CPUID reading against the kernel's (/proc/cpuinfo).</summary>
    [Test]
    public void VnniAgreesWithProcCpuinfo()
    {
        if (!OperatingSystem.IsLinux() || !Int8Kernels.IsX86) Assert.Ignore("reads /proc/cpuinfo of an x86 Linux machine");
        var flags = CpuFlags.Read();
        Assert.That(Int8Kernels.HasVnni, Is.EqualTo(CpuFlags.Vnni), string.Join(' ', flags.Where(f => f.Contains("vnni") || f.StartsWith("avx", StringComparison.Ordinal))));
        Assert.That(Int8Kernels.SaturateEightBitCodes, Is.EqualTo(CpuFlags.SaturatesEightBitCodes));
    }

    [Test]
    public void OnlyCodesBeyond64OnX86WithoutVnniAreWarnedAbout()
    {
        Assert.That(Int8Kernels.SaturateOn(x86: true, vnni: false), Is.True);
        Assert.That(Int8Kernels.SaturateOn(x86: true, vnni: true), Is.False);
        Assert.That(Int8Kernels.SaturateOn(x86: false, vnni: false), Is.False, "ARM's dot products are exact");

        var warning = Int8Kernels.Warning("m.onnx", new Int8Weights(22, 127), saturate: true);
        Assert.That(warning, Does.StartWith("Model 'm.onnx' has 8-bit weight codes (up to ±127 in 22 INT8 tensors)"));
        Assert.That(warning, Does.Contain("no VNNI").And.Contain("edge-prep quantize"));
        Assert.That(warning, Does.Not.Contain("\n"));
        Assert.That(Int8Kernels.Warning("m.onnx", new Int8Weights(22, 65), saturate: true), Is.Not.Null, "2·255·65 = 33150 > 32767");
        Assert.That(Int8Kernels.Warning("m.onnx", new Int8Weights(22, 127), saturate: false), Is.Null);
        Assert.That(Int8Kernels.Warning("m.onnx", new Int8Weights(22, 64), saturate: true), Is.Null, "2·255·64 = 32640 fits: ONNX Runtime's reduce_range");
        Assert.That(Int8Kernels.Warning("m.onnx", new Int8Weights(0, 0), saturate: true), Is.Null);
    }

    /// <summary>The shipped model has 8-bit codes: loading it says so once where /proc/cpuinfo shows an x86 CPU without VNNI, and not elsewhere.</summary>
    [Test]
    public void LoadingAnEightBitModelWarnsOnlyWhereItSaturates()
    {
        var log = new ListLogger();
        using var classifier = Classifier.Load(ShippedInt8, logger: log);
        Assert.That(classifier.Model.Int8Weights.Bits, Is.EqualTo(8));
        var saturation = log.Warnings.Where(w => w.Contains("no VNNI")).ToList();
        Assert.That(saturation, Has.Count.EqualTo(CpuFlags.SaturatesEightBitCodes ? 1 : 0), RuntimeInformation.ProcessArchitecture.ToString());
        Assert.That(classifier.Int8Warning, CpuFlags.SaturatesEightBitCodes ? Is.EqualTo(saturation.Single()) : Is.Null);
    }

    /// <summary>A model ONNX Runtime refuses is not warned about: the warning follows a successful load.</summary>
    [Test]
    public void ARefusedModelIsNotWarnedAbout()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(ShippedInt8);
        var path = dir.File("cut.onnx");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var log = new ListLogger();
        Assert.Throws<ModelLoadException>(() => Classifier.Load(path, logger: log));
        Assert.That(log.Warnings.Where(w => w.Contains("no VNNI")), Is.Empty);
    }
}
