namespace Edge.Host.Quantization;

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
