namespace Edge.Host.Quantization;

/// <summary>
/// Symmetric per-channel int8 weights: q = round(w / scale), scale = max|w| / <see cref="MaxFor"/>, zero point 0. By
/// default 7 bits of them (codes in [-63, 63]): x86 CPUs without VNNI (AVX2, AVX-512 before Cascade Lake, AMD before
/// Zen 4) multiply UINT8 activations by INT8 weights in pairs summed into 16 bits, which saturates once a pair can
/// exceed 32767 (255·127·2 can; 255·63·2 cannot), and the model then answers differently there than on ARM or a VNNI CPU.
/// </summary>
public static class WeightQuantizer
{
    /// <summary>Weight bits unless asked otherwise: the range every CPU computes exactly.</summary>
    public const int DefaultBits = 7;

    /// <summary>Largest code for <paramref name="bits"/> (7 or 8): symmetric, so that -w quantizes to -q.</summary>
    public static int MaxFor(int bits) => bits switch
    {
        7 => 63,
        8 => 127,
        _ => throw new ArgumentOutOfRangeException(nameof(bits), bits, "weight bits: 7 or 8"),
    };

    /// <summary>Quantizes <paramref name="weights"/> along <paramref name="axis"/> of <paramref name="dims"/>; returns per-channel scales.</summary>
    public static float[] PerChannel(ReadOnlySpan<float> weights, long[] dims, int axis, sbyte[] quantized, int bits = DefaultBits)
    {
        var max = MaxFor(bits);
        var channels = (int)dims[axis];
        long inner = 1;
        for (var d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        var absMax = new float[channels];
        for (var i = 0; i < weights.Length; i++)
        {
            var c = (int)(i / inner % channels);
            absMax[c] = Math.Max(absMax[c], Math.Abs(weights[i]));
        }
        var scales = absMax.Select(a => a > 0 ? a / max : 1f).ToArray();
        for (var i = 0; i < weights.Length; i++)
        {
            var c = (int)(i / inner % channels);
            quantized[i] = (sbyte)Math.Clamp((int)Math.Round(weights[i] / scales[c], MidpointRounding.ToEven), -max, max);
        }
        return scales;
    }
}
