using System.Runtime.InteropServices;
using Edge.Core.Inference;
using Edge.Onnx.Model;

namespace Edge.Core.Tests;

public class Int8KernelsTests
{
    private static readonly string ShippedInt8 = Path.Combine(RepoPaths.Models, "fashion-mnist-resnet20-pruned.int8.onnx");

    /// <summary>The CPU features as Linux reports them, an independent reading of CPUID.</summary>
    [Test]
    public void VnniAgreesWithProcCpuinfo()
    {
        if (!OperatingSystem.IsLinux() || !Int8Kernels.IsX86) Assert.Ignore("reads /proc/cpuinfo of an x86 Linux machine");
        var flags = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("flags", StringComparison.Ordinal)).Split(' ');
        var expected = flags.Contains("avx_vnni") || (flags.Contains("avx512_vnni") && flags.Contains("avx512f"));
        Assert.That(Int8Kernels.HasVnni, Is.EqualTo(expected), string.Join(' ', flags.Where(f => f.Contains("vnni") || f.StartsWith("avx", StringComparison.Ordinal))));
    }

    [Test]
    public void OnlyEightBitCodesOnX86WithoutVnniAreWarnedAbout()
    {
        Assert.That(Int8Kernels.SaturateOn(x86: true, vnni: false), Is.True);
        Assert.That(Int8Kernels.SaturateOn(x86: true, vnni: true), Is.False);
        Assert.That(Int8Kernels.SaturateOn(x86: false, vnni: false), Is.False, "ARM's dot products are exact");

        var warning = Int8Kernels.Warning("m.onnx", new Int8Weights(22, 127), saturate: true);
        Assert.That(warning, Does.StartWith("Model 'm.onnx' has 8-bit weight codes (up to ±127 in 22 INT8 tensors)"));
        Assert.That(warning, Does.Contain("no VNNI").And.Contain("edge-prep quantize"));
        Assert.That(warning, Does.Not.Contain("\n"));
        Assert.That(Int8Kernels.Warning("m.onnx", new Int8Weights(22, 127), saturate: false), Is.Null);
        Assert.That(Int8Kernels.Warning("m.onnx", new Int8Weights(22, 63), saturate: true), Is.Null, "7-bit codes are exact everywhere");
        Assert.That(Int8Kernels.Warning("m.onnx", new Int8Weights(0, 0), saturate: true), Is.Null);
    }

    /// <summary>The shipped model has 8-bit codes: loading it says so once on a CPU that saturates them, and not elsewhere.</summary>
    [Test]
    public void LoadingAnEightBitModelWarnsOnlyWhereItSaturates()
    {
        var log = new ListLogger();
        using var classifier = Classifier.Load(ShippedInt8, logger: log);
        Assert.That(classifier.Model.Int8Weights.Bits, Is.EqualTo(8));
        var saturation = log.Warnings.Where(w => w.Contains("no VNNI")).ToList();
        Assert.That(saturation, Has.Count.EqualTo(Int8Kernels.SaturateEightBitCodes ? 1 : 0), RuntimeInformation.ProcessArchitecture.ToString());
    }
}
