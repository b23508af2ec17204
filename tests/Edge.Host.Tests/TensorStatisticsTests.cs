using Edge.Host.Quantization;

namespace Edge.Host.Tests;

public class TensorStatisticsTests
{
    /// <summary>100,000 values uniform in [0, 1) and one outlier at 100.</summary>
    private static TensorStatistics WithOutlier(bool absolute)
    {
        var rng = new Random(3);
        var values = Enumerable.Range(0, 100_000).Select(_ => rng.NextSingle()).Append(100f).ToArray();
        var s = new TensorStatistics();
        s.ObserveRange(values.AsSpan(0, 50_000));
        s.ObserveRange(values.AsSpan(50_000));
        s.BeginHistogram(absolute);
        s.ObserveHistogram(values);
        return s;
    }

    [Test]
    public void MinMaxIsTheExtremes()
    {
        var s = WithOutlier(false);
        Assert.That(s.Range(CalibrationMethod.MinMax), Is.EqualTo((s.Min, 100f)));
        Assert.That(s.Min, Is.GreaterThanOrEqualTo(0f).And.LessThan(1e-3f));
        Assert.That(s.Count, Is.EqualTo(100_001));
    }

    [Test]
    public void PercentileCutsTheOutlier()
    {
        var (lo, hi) = WithOutlier(false).Range(CalibrationMethod.Percentile, 99.9);
        Assert.That(lo, Is.GreaterThanOrEqualTo(0f));
        // Bins are 100/2048 wide: the 99.9th percentile of U[0,1) lands in the bin ending at ~1.
        Assert.That(hi, Is.InRange(0.95f, 1.1f));
    }

    [Test]
    public void EntropyCutsTheOutlier()
    {
        var (lo, hi) = WithOutlier(true).Range(CalibrationMethod.Entropy);
        Assert.That(lo, Is.GreaterThanOrEqualTo(0f));
        Assert.That(hi, Is.InRange(0.9f, 7f), "KL keeps the bulk of the distribution, not the outlier at 100");
    }

    [Test]
    public void EntropyKeepsEverythingWhenThereIsNoTail()
    {
        // A histogram filling all bins evenly: clipping only loses information.
        var h = Enumerable.Repeat(10L, TensorStatistics.Bins).ToArray();
        Assert.That(TensorStatistics.EntropyThreshold(h, 8f), Is.EqualTo(8f).Within(8f / TensorStatistics.Bins * 2));
    }
}
