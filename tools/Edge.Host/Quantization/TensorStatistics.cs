namespace Edge.Host.Quantization;

/// <summary>How an activation's range is chosen from calibration data.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen.</summary>
    MinMax,
    /// <summary>Cut the tails: the given percentile of the values on each side.</summary>
    Percentile,
    /// <summary>The clipping threshold that minimises the KL divergence between the FP32 and the quantized distribution (TensorRT's entropy calibration).</summary>
    Entropy,
}

/// <summary>
/// Statistics of one tensor over all calibration samples, in fixed memory: min and max in a first
/// pass, then (for percentile and entropy) a 2048-bin histogram over that range in a second pass.
/// </summary>
public sealed class TensorStatistics
{
    public const int Bins = 2048;
    private long[]? _histogram;
    private long[]? _negative; // entropy: |x| of the negative values, so each side gets its own threshold
    private float _lo, _hi, _negHi;

    public float Min { get; private set; } = float.PositiveInfinity;
    public float Max { get; private set; } = float.NegativeInfinity;
    public long Count { get; private set; }
    public bool HasHistogram => _histogram is not null;

    /// <summary>Pass 1: extends the min/max.</summary>
    public void ObserveRange(ReadOnlySpan<float> values)
    {
        var min = Min;
        var max = Max;
        foreach (var v in values)
        {
            if (v < min) min = v;
            if (v > max) max = v;
        }
        Min = min;
        Max = max;
        Count += values.Length;
    }

    /// <summary>Starts pass 2: a histogram over the range found in pass 1 (or |x| for entropy).</summary>
    public void BeginHistogram(bool absolute)
    {
        if (Count == 0) throw new InvalidOperationException("no values were observed");
        _histogram = new long[Bins];
        if (absolute)
        {
            (_lo, _hi) = (0f, Math.Max(0f, Max));
            _negHi = Math.Max(0f, -Min);
            _negative = new long[Bins];
        }
        else (_lo, _hi) = (Min, Max);
        Absolute = absolute;
    }

    public bool Absolute { get; private set; }

    /// <summary>Pass 2: counts values into the histogram.</summary>
    public void ObserveHistogram(ReadOnlySpan<float> values)
    {
        var h = _histogram ?? throw new InvalidOperationException("BeginHistogram first");
        var width = _hi - _lo;
        var k = width > 0 ? Bins / width : 0f;
        if (Absolute)
        {
            var n = _negative!;
            var kn = _negHi > 0 ? Bins / _negHi : 0f;
            foreach (var v in values)
            {
                if (v >= 0) h[Math.Clamp((int)(v * k), 0, Bins - 1)]++;
                else n[Math.Clamp((int)(-v * kn), 0, Bins - 1)]++;
            }
            return;
        }
        foreach (var v in values)
            h[Math.Clamp((int)((v - _lo) * k), 0, Bins - 1)]++;
    }

    /// <summary>The range to quantize, chosen by <paramref name="method"/>.</summary>
    public (float Min, float Max) Range(CalibrationMethod method, double percentile = 99.999)
    {
        if (Count == 0) throw new InvalidOperationException("no values were observed");
        switch (method)
        {
            case CalibrationMethod.MinMax:
                return (Min, Max);
            case CalibrationMethod.Percentile:
            {
                var h = _histogram ?? throw new InvalidOperationException("percentile calibration needs the histogram pass");
                var tail = (100 - percentile) / 100;
                var lo = Min >= 0 ? Min : Quantile(h, tail);
                var hi = Quantile(h, 1 - tail);
                return (Math.Max(Min, lo), Math.Min(Max, hi));
            }
            default:
            {
                var h = _histogram ?? throw new InvalidOperationException("entropy calibration needs the histogram pass");
                var hi = Max > 0 ? EntropyThreshold(h, _hi) : Max;
                var lo = Min < 0 ? -EntropyThreshold(_negative!, _negHi) : Min;
                return (Math.Max(Min, lo), Math.Min(Max, hi));
            }
        }
    }

    private float Quantile(long[] h, double q)
    {
        long total = 0;
        foreach (var c in h) total += c;
        var target = q * total;
        long cumulative = 0;
        var width = (_hi - _lo) / Bins;
        for (var i = 0; i < h.Length; i++)
        {
            cumulative += h[i];
            if (cumulative >= target) return _lo + (i + 1) * width;
        }
        return _hi;
    }

    /// <summary>
    /// TensorRT's entropy calibration on a histogram of one side's |x| over [0, top]: for each candidate
    /// threshold (128..2048 bins), fold the clipped tail into the last bin (P), requantize to 128
    /// levels and expand back (Q), and keep the threshold with the smallest KL(P || Q).
    /// </summary>
    internal static float EntropyThreshold(long[] histogram, float top, int levels = 128)
    {
        var bins = histogram.Length;
        // Exact zeros (ReLU's floor, padding) are a spike that every threshold represents exactly;
        // left in, it dominates the divergence and drives the threshold down to the minimum
        // (NVIDIA's pytorch-quantization flattens it the same way).
        var h = (long[])histogram.Clone();
        if (bins > 1) h[0] = h[1];
        var width = top / bins;
        var best = double.PositiveInfinity;
        var bestI = bins;
        var p = new double[bins];
        var q = new double[bins];
        long tail = 0;
        for (var i = bins - 1; i >= levels; i--) tail += h[i];
        // tail now = sum(h[levels..]); walk i upward, removing h[i-1] from the tail as it joins P.
        for (var i = levels; i <= bins; i++)
        {
            if (i > levels) tail -= h[i - 1];
            for (var j = 0; j < i; j++) p[j] = h[j];
            p[i - 1] += tail;
            var chunk = (double)i / levels;
            for (var l = 0; l < levels; l++)
            {
                var start = (int)Math.Floor(l * chunk);
                var end = (int)Math.Floor((l + 1) * chunk);
                if (l == levels - 1) end = i;
                double sum = 0;
                var nonzero = 0;
                for (var j = start; j < end; j++)
                {
                    sum += h[j];
                    if (h[j] != 0) nonzero++;
                }
                for (var j = start; j < end; j++) q[j] = h[j] != 0 ? sum / nonzero : 0;
            }
            // The folded tail belongs to P's last bin; Q spreads only what fell inside.
            double ps = 0, qs = 0;
            for (var j = 0; j < i; j++) { ps += p[j]; qs += q[j]; }
            if (ps == 0 || qs == 0) continue;
            double kl = 0;
            for (var j = 0; j < i; j++)
            {
                if (p[j] == 0) continue;
                var pj = p[j] / ps;
                var qj = q[j] / qs;
                kl += qj > 0 ? pj * Math.Log(pj / qj) : pj * Math.Log(pj / 1e-12);
            }
            if (kl < best)
            {
                best = kl;
                bestI = i;
            }
        }
        return bestI * width; // the upper edge of the last bin kept
    }
}
