using System.Text.Json;

namespace Edge.ModelPrep.Tests;

/// <summary>The real edge-prep CLI, run as a process.</summary>
public class QuantizeCliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => EdgePrep.Run(args);

    private static string Fixture => Path.Combine(RepoPaths.Root, "tests", "fixtures", "fmnist_convnet.onnx");

    [Test]
    public void QuantizeWritesAModelAndAJsonReport()
    {
        using var dir = new TempDir();
        var output = dir.File("int8.onnx");
        var r = Run("quantize", Fixture, output, "--calibration", "fashion-mnist", "--samples", "128", "--method", "percentile",
            "--eval", "fashion-mnist", "--eval-samples", "500", "--json");
        Assert.That(r.Code, Is.Zero, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("method").GetString(), Is.EqualTo("percentile 99.999"));
        Assert.That(root.GetProperty("calibration_images").GetInt32(), Is.EqualTo(128));
        Assert.That(root.GetProperty("fusion").GetProperty("float_compute_nodes").GetArrayLength(), Is.Zero);
        Assert.That(root.GetProperty("evaluation").GetProperty("top1_agreement").GetDouble(), Is.GreaterThanOrEqualTo(98));
        Assert.That(root.GetProperty("int8_latency_ms").GetDouble(), Is.GreaterThan(0));
        Assert.That(File.Exists(output), Is.True);
    }

    [Test]
    public void TheTableReportNamesTheFusionAndTheEvaluation()
    {
        using var dir = new TempDir();
        var r = Run("quantize", Fixture, dir.File("q.onnx"), "-c", "fashion-mnist", "-n", "64", "--eval", "fashion-mnist", "--eval-samples", "200", "--no-latency");
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Out, Does.Contain("every Conv/Gemm/MatMul fused"));
        Assert.That(r.Out, Does.Contain("top-1 agreement"));
        Assert.That(r.Out, Does.Contain("SQNR"));
    }

    [TestCase("--method", "kl-ish", "--method 'kl-ish'")]
    [TestCase("--activations", "int4", "--activations 'int4'")]
    [TestCase("--calibration", "/nonexistent", "neither 'fashion-mnist'")]
    public void BadArgumentsEndWithOneLine(string option, string value, string expected)
    {
        using var dir = new TempDir();
        var args = new List<string> { "quantize", Fixture, dir.File("q.onnx"), "-c", "fashion-mnist", "-n", "8" };
        var at = args.IndexOf(option == "--calibration" ? "-c" : "");
        if (option == "--calibration") args[at + 1] = value; else args.AddRange([option, value]);
        var r = Run([.. args]);
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.Err.Trim().Split('\n'), Has.Length.EqualTo(1), r.Err);
        Assert.That(r.Err, Does.StartWith("edge-prep: error:").And.Contain(expected));
    }

    [Test]
    public void AMissingModelEndsWithOneLine()
    {
        var r = Run("quantize", "/nonexistent.onnx", "/tmp/x.onnx", "-c", "fashion-mnist");
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.Err.Trim(), Is.EqualTo("edge-prep: error: model '/nonexistent.onnx' does not exist"));
    }
}
