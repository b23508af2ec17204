using Edge.Host.Quantization;

namespace Edge.Host.Tests;

public class QuantParamsTests
{
    [Test]
    public void AsymmetricActivationParametersByHand()
    {
        // [-1, 3] over 255 steps: scale 4/255; uint8 zero point round(1 / (4/255)) = round(63.75) = 64.
        var u8 = QuantParams.ForActivation(-1f, 3f, ActivationType.UInt8);
        Assert.That(u8.Scale, Is.EqualTo(4f / 255f).Within(1e-9f));
        Assert.That(u8.ZeroPoint, Is.EqualTo(64));
        // int8 codes are shifted by 128: round(-128 + 63.75) = -64.
        Assert.That(QuantParams.ForActivation(-1f, 3f, ActivationType.Int8).ZeroPoint, Is.EqualTo(-64));
    }

    [Test]
    public void ReluOutputsPutZeroOnTheLowestCode()
    {
        var p = QuantParams.ForActivation(0f, 6f, ActivationType.UInt8);
        Assert.That((p.Scale, p.ZeroPoint), Is.EqualTo((6f / 255f, 0)));
        Assert.That(QuantParams.ForActivation(0f, 6f, ActivationType.Int8).ZeroPoint, Is.EqualTo(-128));
        Assert.That(p.Quantize(-3f, 0, 255), Is.EqualTo(0), "negative values clamp to zero: ReLU for free");
    }

    [Test]
    public void TheRangeAlwaysIncludesZero()
    {
        var p = QuantParams.ForActivation(2f, 5f, ActivationType.UInt8);
        Assert.That(p.Scale, Is.EqualTo(5f / 255f).Within(1e-9f));
        Assert.That(p.ZeroPoint, Is.EqualTo(0));
        var n = QuantParams.ForActivation(-4f, -1f, ActivationType.UInt8);
        Assert.That(n.ZeroPoint, Is.EqualTo(255));
    }

    [Test]
    public void AConstantZeroTensorStillGetsAValidScale() =>
        Assert.That(QuantParams.ForActivation(0f, 0f, ActivationType.UInt8), Is.EqualTo(new QuantParams(1f, 0)));

    [Test]
    public void WeightsAreSymmetricPerChannel()
    {
        // Two output channels of a 1x1 conv with two inputs: [[0.3, -1], [0.25, 0.1]].
        float[] w = [0.3f, -1f, 0.25f, 0.1f];
        var q = new sbyte[4];
        var scales = WeightQuantizer.PerChannel(w, [2, 2, 1, 1], 0, q, bits: 8);
        Assert.That(scales, Is.EqualTo(new[] { 1f / 127, 0.25f / 127 }).Within(1e-9f));
        // 0.3*127 = 38.1 -> 38; -1 -> -127; 0.25 -> 127; 0.1/0.25*127 = 50.8 -> 51
        Assert.That(q, Is.EqualTo(new sbyte[] { 38, -127, 127, 51 }));
    }

    /// <summary>The default: 7 bits, so that a pair of UINT8 × weight products fits 16 bits (255·63·2 = 32130 ≤ 32767).</summary>
    [Test]
    public void WeightsHaveSevenBitsByDefault()
    {
        float[] w = [0.3f, -1f, 0.25f, 0.1f];
        var q = new sbyte[4];
        var scales = WeightQuantizer.PerChannel(w, [2, 2, 1, 1], 0, q);
        Assert.That(scales, Is.EqualTo(new[] { 1f / 63, 0.25f / 63 }).Within(1e-9f));
        // 0.3*63 = 18.9 -> 19; -1 -> -63; 0.25 -> 63; 0.1/0.25*63 = 25.2 -> 25
        Assert.That(q, Is.EqualTo(new sbyte[] { 19, -63, 63, 25 }));
        Assert.That(255 * WeightQuantizer.MaxFor(WeightQuantizer.DefaultBits) * 2, Is.LessThanOrEqualTo(short.MaxValue));
        Assert.That(() => WeightQuantizer.PerChannel(w, [2, 2, 1, 1], 0, q, bits: 6), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void PerChannelAlongAnInnerAxis()
    {
        // Gemm without transB: B is [K=2, N=3], channels are columns (axis 1).
        float[] b = [1f, -2f, 0.5f, -0.5f, 1f, 4f];
        var q = new sbyte[6];
        var scales = WeightQuantizer.PerChannel(b, [2, 3], 1, q, bits: 8);
        Assert.That(scales, Is.EqualTo(new[] { 1f / 127, 2f / 127, 4f / 127 }).Within(1e-9f));
        Assert.That(q, Is.EqualTo(new sbyte[] { 127, -127, 16, -64, 64, 127 }));
    }

    [Test]
    public void AllZeroChannelGetsScaleOne()
    {
        var q = new sbyte[2];
        Assert.That(WeightQuantizer.PerChannel([0f, 0f], [2, 1], 0, q), Is.EqualTo(new[] { 1f, 1f }));
    }
}
