using Edge.ModelPrep.Models;
using Edge.ModelPrep.Qat;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Tests;

/// <summary>Our fake quantization against PyTorch's (forward and straight-through gradient), and a network trained with it.</summary>
public class QatTests
{
    private static void WriteFloats(string path, float[] values)
    {
        using var w = new BinaryWriter(File.Create(path));
        foreach (var v in values) w.Write(v);
    }

    /// <summary>Values on and between the grid, at rounding ties, inside and outside the range.</summary>
    private static float[] Probe(int n, int seed)
    {
        var rng = new Random(seed);
        var v = new float[n];
        for (var i = 0; i < n; i++)
            v[i] = (i % 4) switch
            {
                0 => (float)(rng.NextDouble() * 8 - 4),
                1 => (float)(Math.Round(rng.NextDouble() * 400 - 200) * 0.02 + 0.01), // exact ties of the 0.02 grid
                2 => (float)(rng.NextDouble() * 40 - 20), // far outside
                _ => (float)(rng.NextDouble() * 0.1 - 0.05),
            };
        return v;
    }

    [Category(Needs.Python)]
    [Test]
    public void PerTensorAndPerChannelMatchPyTorchForwardAndGradient()
    {
        using var dir = new TempDir();
        var values = Probe(4 * 1000, 1);
        WriteFloats(dir.File("x.bin"), values);
        Python.Run("""
            import sys, numpy as np, torch
            d = sys.argv[1]
            x = torch.tensor(np.fromfile(d + "/x.bin", dtype=np.float32), requires_grad=True)
            y = torch.fake_quantize_per_tensor_affine(x, 0.02, 37, 0, 255)
            (y * torch.arange(x.numel(), dtype=torch.float32)).sum().backward()
            y.detach().numpy().tofile(d + "/t_y.bin"); x.grad.numpy().tofile(d + "/t_g.bin")
            w = torch.tensor(np.fromfile(d + "/x.bin", dtype=np.float32).reshape(4, 10, 10, 10), requires_grad=True)
            s = torch.tensor([0.02, 0.5, 0.013, 1.0], dtype=torch.float32)
            v = torch.fake_quantize_per_channel_affine(w, s, torch.zeros(4, dtype=torch.int32), 0, -127, 127)
            (v * torch.arange(w.numel(), dtype=torch.float32).reshape(w.shape)).sum().backward()
            v.detach().numpy().tofile(d + "/c_y.bin"); w.grad.numpy().tofile(d + "/c_g.bin")
            """, dir.Path);
        var weights = arange(values.Length, dtype: ScalarType.Float32);

        var x = tensor(values).requires_grad_();
        var y = FakeQuant.PerTensor(x, 0.02, 37, 0, 255);
        (y * weights).sum().backward();
        Assert.That(y.data<float>().ToArray(), Is.EqualTo(Python.ReadFloats(dir.File("t_y.bin"))), "per-tensor forward");
        Assert.That(x.grad!.data<float>().ToArray(), Is.EqualTo(Python.ReadFloats(dir.File("t_g.bin"))), "per-tensor gradient");

        var w = tensor(values).reshape(4, 10, 10, 10).requires_grad_();
        var v = FakeQuant.PerChannel(w, tensor(new[] { 0.02f, 0.5f, 0.013f, 1.0f }), -127, 127);
        (v * weights.reshape(4, 10, 10, 10)).sum().backward();
        Assert.That(v.data<float>().ToArray(), Is.EqualTo(Python.ReadFloats(dir.File("c_y.bin"))), "per-channel forward");
        Assert.That(w.grad!.data<float>().ToArray(), Is.EqualTo(Python.ReadFloats(dir.File("c_g.bin"))), "per-channel gradient");
    }

    /// <summary>Hand-computed: scale 0.5, zero point 10, codes 0..20 cover [-5, 5].</summary>
    [Test]
    public void GradientsPassInsideTheRangeAndStopOutside()
    {
        var x = tensor(new[] { -7f, -5f, -5.3f, -0.26f, 0.25f, 0.75f, 4.9f, 5.2f, 9f }).requires_grad_();
        var y = FakeQuant.PerTensor(x, 0.5, 10, 0, 20);
        y.sum().backward();
        // round half to even: 0.25 / 0.5 = 0.5 → 0, 0.75 / 0.5 = 1.5 → 2; -5.3 / 0.5 = -10.6 → -11, code -1: clamped
        Assert.That(y.data<float>().ToArray(), Is.EqualTo(new[] { -5f, -5f, -5f, -0.5f, 0f, 1f, 5f, 5f, 5f }));
        Assert.That(x.grad!.data<float>().ToArray(), Is.EqualTo(new[] { 0f, 1f, 0f, 1f, 1f, 1f, 1f, 1f, 0f }),
            "-5 and 5.2 round onto the end codes (0 and 20): inside; -5.3 (code -1), -7 and 9 are clamped: blocked");
    }

    /// <summary>
    /// A network in quantization-aware mode computes its FP32 answer up to INT8 rounding: BatchNorm folded the way
    /// export folds it, so the fake-quantized forward differs from the plain one only by quantization noise.
    /// </summary>
    /// (An untrained MobileNetV2 amplifies rounding through its 17 blocks: 27% relative error from the weights alone, so it is no check.)
    [TestCase("resnet20", 1.0)]
    [TestCase("resnet18", 0.25)]
    public void AFakeQuantizedNetworkAgreesWithItsFloatForwardUpToRounding(string arch, double width)
    {
        var spec = new ArchSpec { Arch = arch, Width = width, InputSize = 28, Channels = 1, Classes = 10 };
        manual_seed(2);
        using var net = Architectures.Create(spec);
        var images = randn(32, 1, 28, 28);
        ExportTests.SettleBatchNorm(net, images.data<float>().ToArray(), 32, 3);
        net.eval();
        Tensor plain;
        using (no_grad()) plain = net.call(images);
        Assert.That(QuantizationAware.Enable(net), Is.GreaterThan(10));
        net.train(); // observers learn the ranges in training mode (BatchNorm statistics stay frozen: folded)
        using (no_grad()) for (var i = 0; i < 3; i++) net.call(images);
        net.eval();
        Tensor quantized;
        using (no_grad()) quantized = net.call(images);
        var relative = ((quantized - plain).norm() / plain.norm()).item<float>();
        var agree = plain.argmax(1).eq(quantized.argmax(1)).sum().item<long>();
        TestContext.Out.WriteLine($"{spec.Describe()}: relative error {relative:g3}, top-1 agreement {agree}/32");
        Assert.That(relative, Is.LessThan(0.1));
        Assert.That(relative, Is.GreaterThan(1e-5), "the weights and activations were really rounded");
        Assert.That(agree, Is.GreaterThanOrEqualTo(28));
    }
}
