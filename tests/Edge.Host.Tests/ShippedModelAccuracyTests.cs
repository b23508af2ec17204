using System.Globalization;
using System.Text.RegularExpressions;
using Edge.Host.Datasets;
using Edge.Host.Evaluation;

namespace Edge.Host.Tests;

/// <summary>
/// The shipped pruned INT8 Fashion-MNIST model scores what models/README.md says on a fixed subset (the first
/// 1,000 test images), through Edge.Core as the daemon runs it; and it is as small as the README says.
/// </summary>
public class ShippedModelAccuracyTests
{
    public const string ModelFile = "fashion-mnist-resnet20-pruned.int8.onnx";

    /// <summary>The row of models/README.md for the model: "| file | ... | first 1,000: NN.N% | ... |".</summary>
    private static double Documented(string column)
    {
        var readme = File.ReadAllText(Path.Combine(RepoPaths.Models, "README.md"));
        var row = readme.Split('\n').Single(l => l.StartsWith($"| `{ModelFile}`", StringComparison.Ordinal));
        var headers = readme.Split('\n').First(l => l.StartsWith("| model", StringComparison.Ordinal)).Split('|').Select(c => c.Trim()).ToList();
        var cells = row.Split('|').Select(c => c.Trim()).ToList();
        var cell = cells[headers.IndexOf(column)];
        return double.Parse(Regex.Match(cell, @"[0-9]+(\.[0-9]+)?").Value, CultureInfo.InvariantCulture);
    }

    [Category(Needs.FashionMnist)]
    [Test]
    public void TheFirstThousandTestImagesScoreTheDocumentedFigure()
    {
        var set = IdxImageSet.FashionMnist("test");
        var report = OnnxEvaluator.Evaluate(Path.Combine(RepoPaths.Models, ModelFile), set, [.. Enumerable.Range(0, 1000)], threads: 1, latencyRuns: 0);
        var documented = Documented("top-1, first 1,000 test images");
        TestContext.Out.WriteLine($"top-1 on the first 1,000: {report.Top1:0.00}% (documented {documented}%)");
        Assert.That(report.Images, Is.EqualTo(1000));
        Assert.That(report.Top1, Is.EqualTo(documented).Within(0.5));
    }

    [Test]
    public void ItIsAsSmallAsDocumentedAndWithinTheBudget()
    {
        var model = Onnx.Model.OnnxModelFile.Load(Path.Combine(RepoPaths.Models, ModelFile));
        var report = Onnx.Model.ModelInspector.Inspect(model);
        Assert.That(report.TotalMacs / 1e6, Is.EqualTo(Documented("MACs")).Within(0.01), "MACs as documented (millions)");
        Assert.That(report.TotalMacs, Is.LessThanOrEqualTo(10_000_000), "the issue's budget: at most 10 M MACs");
        Assert.That(report.Operators.Keys, Does.Contain("QuantizeLinear"));
        Assert.That(report.Metadata[Onnx.Metadata.ModelMetadataKeys.Architecture], Does.Contain("pruned"));
        Assert.That(new FileInfo(Path.Combine(RepoPaths.Models, ModelFile)).Length / 1024.0, Is.EqualTo(Documented("bytes (KiB)")).Within(1));
    }
}
