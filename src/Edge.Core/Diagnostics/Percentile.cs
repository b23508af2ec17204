namespace Edge.Core.Diagnostics;

/// <summary>
/// The one percentile every figure in Edge uses (latency windows, bench reports, evaluation,
/// quantization timing): linear interpolation between the closest ranks, as NumPy's default.
/// </summary>
public static class Percentile
{
    /// <summary>The <paramref name="p"/>-th percentile (0..100) of values sorted ascending; 0 for none.</summary>
    public static double OfSorted(ReadOnlySpan<double> sorted, double p)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(p, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(p, 100);
        if (sorted.IsEmpty) return 0;
        var rank = p / 100 * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    /// <summary>Sorts <paramref name="values"/> in place and returns its <paramref name="p"/>-th percentile.</summary>
    public static double Of(Span<double> values, double p)
    {
        values.Sort();
        return OfSorted(values, p);
    }

    /// <summary>The median of values sorted ascending.</summary>
    public static double Median(ReadOnlySpan<double> sorted) => OfSorted(sorted, 50);
}
