using Edge.Host.Evaluation;
using Edge.ModelPrep.Evaluation;
using Edge.ModelPrep.Training;
using SkiaSharp;

namespace Edge.ModelPrep.Tests;

public class ReportPlotTests
{
    /// <summary>Dark pixels in a band of the image: text (a title, labels) was drawn there.</summary>
    private static int DarkPixels(SKBitmap b, int top, int bottom)
    {
        var n = 0;
        for (var y = top; y < bottom; y++)
            for (var x = 0; x < b.Width; x++)
                if (b.GetPixel(x, y) is var c && c.Red < 80 && c.Green < 80 && c.Blue < 80) n++;
        return n;
    }

    [Test]
    public void TheConfusionMatrixHasItsTitleAndAxisLabelsDrawn()
    {
        // ScottPlot draws no text at all when it finds no font: the title band would be blank.
        var report = ClassificationMetrics.Summarize("m", "onnx", "d", ["cat", "dog"], [0, 0, 1, 1], [[0, 1], [1, 0], [1, 0], [1, 0]]);
        using var png = SKBitmap.Decode(ReportWriter.ConfusionPng(report));
        Assert.That(DarkPixels(png, 0, 30), Is.GreaterThan(100), "the title");
        Assert.That(DarkPixels(png, png.Height - 40, png.Height), Is.GreaterThan(50), "the x-axis title");
    }

    [Test]
    public void TheCurvesShowBothPanelsWithTheirTitles()
    {
        EpochMetrics Epoch(int e, double val) => new(e, e * 10, 0.1, 2.0 / e, 50 + e, 1.5 / e, val, 100, 0.1, 1);
        using var png = SKBitmap.Decode(ReportWriter.CurvesPng([Epoch(1, 60), Epoch(2, 70), Epoch(3, 65)]));
        Assert.That((png.Width, png.Height), Is.EqualTo((1280, 400)), "two 640x400 panels side by side");
        Assert.That(DarkPixels(png, 0, 30), Is.GreaterThan(100), "the panel titles");
    }
}
