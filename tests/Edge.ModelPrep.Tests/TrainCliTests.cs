using System.Text.Json;

namespace Edge.ModelPrep.Tests;

/// <summary>train → export → eval through the real CLI, and its refusals.</summary>
public class TrainCliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => EdgePrep.Run(args);

    [Category(Needs.Training)]
    [Category(Needs.FashionMnist), Category(Needs.Python)]
    [Test]
    public void TrainExportAndEvaluateGiveTheSameAccuracyAsTheCheckpoint()
    {
        using var dir = new TempDir();
        var run = dir.File("run");
        var t = Run("train", "--data", "fashion-mnist", "--arch", "resnet20", "--width", "0.25", "--input-size", "16", "--lr", "0.05",
            "--epochs", "3", "--batch-size", "32", "--max-images", "1000", "--threads", "2", "--out", run, "--json");
        Assert.That(t.Code, Is.Zero, t.Err);
        JsonSchemas.AssertValid(t.Out, "edge-prep-train");
        using var summary = JsonDocument.Parse(t.Out);
        var test = summary.RootElement.GetProperty("test");
        Assert.That(test.GetProperty("images").GetInt32(), Is.EqualTo(10000));
        Assert.That(summary.RootElement.GetProperty("data_wait_fraction").GetDouble(), Is.InRange(0, 1));
        foreach (var f in new[] { "report.md", "metrics.json", "confusion.png", "curves.png" })
            Assert.That(File.Exists(Path.Combine(run, "report", f)), f);

        var onnx = dir.File("model.onnx");
        var x = Run("export", run, "--out", onnx, "--json");
        Assert.That(x.Code, Is.Zero, x.Err);
        JsonSchemas.AssertValid(x.Out, "edge-prep-export");
        using var exported = JsonDocument.Parse(x.Out);
        Assert.That(exported.RootElement.GetProperty("parity_max_abs_diff").GetDouble(), Is.LessThanOrEqualTo(1e-4));
        Python.CheckModel(onnx);

        // The ONNX file, run through Edge.Core as the daemon runs it, scores what the checkpoint scored.
        var e = Run("eval", onnx, "--data", "fashion-mnist", "--max-images", "2000", "--json", "--out", dir.File("onnx-report"));
        Assert.That(e.Code, Is.Zero, e.Err);
        var c = Run("eval", run, "--max-images", "2000", "--json", "--latency-runs", "0");
        Assert.That(c.Code, Is.Zero, c.Err);
        JsonSchemas.AssertValid(e.Out, "edge-prep-eval");
        JsonSchemas.AssertValid(c.Out, "edge-prep-eval");
        JsonSchemas.AssertValid(File.ReadAllText(Path.Combine(dir.File("onnx-report"), "metrics.json")), "edge-prep-eval");
        using var onnxReport = JsonDocument.Parse(e.Out);
        using var ckptReport = JsonDocument.Parse(c.Out);
        Assert.That(onnxReport.RootElement.GetProperty("top1").GetDouble(), Is.EqualTo(ckptReport.RootElement.GetProperty("top1").GetDouble()).Within(0.051),
            "at most one image of 2000 may flip on float rounding");
        Assert.That(onnxReport.RootElement.GetProperty("top1").GetDouble(), Is.GreaterThan(30));
        Assert.That(onnxReport.RootElement.GetProperty("latency").GetProperty("p50_ms").GetDouble(), Is.GreaterThan(0));
        Assert.That(File.ReadAllText(Path.Combine(dir.File("onnx-report"), "report.md")), Does.Contain("| Ankle boot | "));

        // Grad-CAM of the run's best checkpoint on two of the shipped samples: a heatmap each, the
        // network's own prediction explained, the image enlarged from 16 to 224 pixels.
        var samples = new[] { "trouser.png", "bag.png" }.Select(f => Path.Combine(RepoPaths.Models, "fashion-samples", f)).ToArray();
        var g = Run(["explain", run, .. samples, "--out", dir.File("cam"), "--json"]);
        Assert.That(g.Code, Is.Zero, g.Err);
        JsonSchemas.AssertValid(g.Out, "edge-prep-explain");
        using var explained = JsonDocument.Parse(g.Out);
        var entries = explained.RootElement.GetProperty("images").EnumerateArray().ToList();
        Assert.That(entries, Has.Count.EqualTo(2));
        foreach (var entry in entries)
        {
            Assert.That(entry.GetProperty("explained").GetString(), Is.EqualTo(entry.GetProperty("predicted").GetString()));
            var png = entry.GetProperty("heatmap").GetString()!;
            using var bitmap = SkiaSharp.SKBitmap.Decode(png);
            Assert.That((bitmap.Width, bitmap.Height), Is.EqualTo((224, 224)), png);
        }
        var bogus = Run("explain", run, samples[0], "--out", dir.File("cam2"), "--class", "Sock");
        Assert.That(bogus.Code, Is.EqualTo(2));
        Assert.That(bogus.Err.Trim(), Does.StartWith("edge-prep: error: --class 'Sock' is not one of the model's classes (T-shirt/top, Trouser"));
        var other = Run("explain", run, samples[0], "--out", dir.File("cam3"), "--class", "Bag", "--json");
        Assert.That(other.Code, Is.Zero, other.Err);
        Assert.That(JsonDocument.Parse(other.Out).RootElement.GetProperty("images")[0].GetProperty("explained").GetString(), Is.EqualTo("Bag"));
    }

    [Category(Needs.Training)]
    [Category(Needs.FashionMnist)]
    [Test]
    public void BadInputGivesAOneLineReasonAndANonZeroExit()
    {
        using var dir = new TempDir();
        var single = Directory.CreateDirectory(Path.Combine(dir.Path, "single", "only")).FullName;
        File.WriteAllBytes(Path.Combine(single, "a.png"), TestImages.Png(TestImages.Pattern(8, 8), 8, 8));
        var r = Run("train", "--data", Path.GetDirectoryName(single)!, "--out", dir.File("run1"));
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.Err.Trim(), Does.StartWith("edge-prep: error: ").And.Contain("at least 2").And.Not.Contain("\n"));

        r = Run("train", "--data", "fashion-mnist", "--arch", "vgg16", "--out", dir.File("run2"));
        Assert.That(r.Code, Is.EqualTo(2), "a bad flag value is a usage error, as in edged");
        Assert.That(r.Err, Does.Contain("--arch 'vgg16': expected one of mobilenetv2"));

        // NaN passes range checks unless refused by name; it must not reach the first step.
        r = Run("train", "--data", "fashion-mnist", "--lr", "NaN", "--out", dir.File("run3"));
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err.Trim(), Is.EqualTo("edge-prep: error: --lr NaN: expected a finite number"));
        Assert.That(Directory.Exists(dir.File("run3")), Is.False);

        r = Run("train", "--data", "fashion-mnist:bogus", "--out", dir.File("run4"));
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.Err.Trim(), Is.EqualTo("edge-prep: error: 'fashion-mnist:bogus': unknown split 'bogus'; expected fashion-mnist:train or fashion-mnist:test"));

        r = Run("export", dir.Path, "--out", dir.File("x.onnx"));
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.Err, Does.Contain("neither a checkpoint folder"));
        Assert.That(File.Exists(dir.File("x.onnx")), Is.False);
    }
}
