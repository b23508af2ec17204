namespace Edge.Host.Quantization;

/// <summary>Integer type of quantized activations.</summary>
/// <remarks>
/// uint8 (U8S8) is the default: ONNX Runtime on x86 runs S8S8 QDQ models by rewriting each
/// QuantizeLinear → DequantizeLinear pair to uint8, and it does so only where one Q feeds one DQ.
/// A tensor read by two layers (every residual branch) keeps its int8 pair, and the Conv on either
/// side stays in float (measured on ONNX Runtime 1.31: ResNet-20 fuses 10 of 22 layers as int8, all
/// 22 as uint8). Writing U8S8 gives the graph ONNX Runtime would have run anyway.
/// </remarks>
public enum ActivationType
{
    /// <summary>int8, asymmetric (S8S8).</summary>
    Int8,
    /// <summary>uint8, asymmetric (U8S8): the default.</summary>
    UInt8,
}

/// <summary>Scale and zero point of one tensor: real = (q - zeroPoint) * scale.</summary>
public readonly record struct QuantParams(float Scale, int ZeroPoint)
{
    /// <summary>
    /// Asymmetric parameters covering [min, max]. The range is widened to include 0 so that zero
    /// (padding, ReLU's floor) is exact; a ReLU output with min = 0 gets the lowest code as zero point.
    /// </summary>
    public static QuantParams ForActivation(float min, float max, ActivationType type)
    {
        var (qmin, qmax) = type == ActivationType.Int8 ? (-128, 127) : (0, 255);
        var rmin = Math.Min(0f, min);
        var rmax = Math.Max(0f, max);
        if (!float.IsFinite(rmin) || !float.IsFinite(rmax))
            throw new QuantizationException($"activation range [{min}, {max}] is not finite");
        if (rmax == rmin) return new QuantParams(1f, 0); // an all-zero tensor: any scale, zero exact
        var scale = (rmax - rmin) / (qmax - qmin);
        var zp = (int)Math.Round(qmin - rmin / scale, MidpointRounding.ToEven);
        return new QuantParams(scale, Math.Clamp(zp, qmin, qmax));
    }

    public int Quantize(float value, int qmin, int qmax) =>
        Math.Clamp((int)Math.Round(value / Scale + ZeroPoint, MidpointRounding.ToEven), qmin, qmax);
}

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
