namespace Edge.Host.Quantization;

/// <summary>Symmetric per-channel int8 weights: q = round(w / scale), scale = max|w| / 127, zero point 0.</summary>
public static class WeightQuantizer
{
    public const int Max = 127; // [-127, 127]: symmetric, so that -w quantizes to -q

    /// <summary>Quantizes <paramref name="weights"/> along <paramref name="axis"/> of <paramref name="dims"/>; returns per-channel scales.</summary>
    public static float[] PerChannel(ReadOnlySpan<float> weights, long[] dims, int axis, sbyte[] quantized)
    {
        var channels = (int)dims[axis];
        long inner = 1;
        for (var d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        var absMax = new float[channels];
        for (var i = 0; i < weights.Length; i++)
        {
            var c = (int)(i / inner % channels);
            absMax[c] = Math.Max(absMax[c], Math.Abs(weights[i]));
        }
        var scales = absMax.Select(a => a > 0 ? a / Max : 1f).ToArray();
        for (var i = 0; i < weights.Length; i++)
        {
            var c = (int)(i / inner % channels);
            quantized[i] = (sbyte)Math.Clamp((int)Math.Round(weights[i] / scales[c], MidpointRounding.ToEven), -Max, Max);
        }
        return scales;
    }
}
