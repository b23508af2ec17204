using Edge.Core.Diagnostics;

namespace Edge.Core.Tests;

public class PercentileTests
{
    // Expected values from NumPy: np.percentile([3,1,4,1,5,9,2,6], p) (linear interpolation, its default).
    [TestCase(0, 1.0)]
    [TestCase(25, 1.75)]
    [TestCase(50, 3.5)]
    [TestCase(90, 6.9)]
    [TestCase(99, 8.79)]
    [TestCase(100, 9.0)]
    public void MatchesNumPy(double p, double expected)
    {
        double[] values = [3, 1, 4, 1, 5, 9, 2, 6];
        Assert.That(Percentile.Of(values, p), Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void OneValueIsEveryPercentileAndNoneIsZero()
    {
        Assert.That(Percentile.OfSorted([7.0], 50), Is.EqualTo(7.0));
        Assert.That(Percentile.OfSorted([], 50), Is.Zero);
        Assert.That(() => Percentile.OfSorted([1.0], 101), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
