using System.Text.Json;

namespace Edge.ModelPrep.Tests;

/// <summary>The real edge-prep CLI, run as a process.</summary>
public class QuantizeCliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => EdgePrep.Run(args);

    private static string Fixture => Path.Combine(RepoPaths.Root, "tests", "fixtures", "fmnist_convnet.onnx");

    [Category(Needs.FashionMnist), Category(Needs.Python)]
    [Test]
    public void QuantizeWritesAModelAndAJsonReport()
    {
        using var dir = new TempDir();
        var output = dir.File("int8.onnx");
        var r = Run("quantize", Fixture, output, "--calibration", "fashion-mnist", "--samples", "128", "--method", "percentile",
            "--eval", "fashion-mnist", "--eval-samples", "500", "--json");
        Assert.That(r.Code, Is.Zero, r.Err);
        JsonSchemas.AssertValid(r.Out, "edge-prep-quantize");
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("method").GetString(), Is.EqualTo("percentile 99.999"));
        Assert.That(root.GetProperty("calibration_images").GetInt32(), Is.EqualTo(128));
        Assert.That(root.GetProperty("fusion").GetProperty("float_compute_nodes").GetArrayLength(), Is.Zero);
        Assert.That(root.GetProperty("evaluation").GetProperty("top1_agreement").GetDouble(), Is.GreaterThanOrEqualTo(98));
        Assert.That(root.GetProperty("int8_latency_ms").GetDouble(), Is.GreaterThan(0));
        Assert.That(File.Exists(output), Is.True);
        // 7-bit weights by default (read back by onnx itself): every weight code within ±63, and some at it.
        Assert.That(root.GetProperty("weight_bits").GetInt32(), Is.EqualTo(7));
        Assert.That(LargestWeightCode(output), Is.EqualTo(63));
    }

    /// <summary>The largest |code| over the model's INT8 weight tensors, as onnx's numpy_helper reads them.</summary>
    private static int LargestWeightCode(string model) => int.Parse(Python.Run("""
        import sys, numpy as np, onnx, onnx.numpy_helper
        m = onnx.load(sys.argv[1])
        codes = [np.abs(onnx.numpy_helper.to_array(t).astype(np.int32)).max() for t in m.graph.initializer
                 if t.data_type == onnx.TensorProto.INT8 and len(t.dims) >= 2]
        print(max(codes))
        """, model).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// --weight-bits 8 gives the full ±127 (exact on ARM and VNNI only); anything else is refused in one line before work.
    /// The agreement with FP32 is not compared here: it depends on the CPU the test runs on (that is the point of 7 bits).
    /// </summary>
    [Category(Needs.FashionMnist), Category(Needs.Python)]
    [Test]
    public void EightBitWeightsAreThereWhenAskedFor()
    {
        using var dir = new TempDir();
        var r = Run("quantize", Fixture, dir.File("q8.onnx"), "-c", "fashion-mnist", "-n", "16", "--weight-bits", "8", "--no-latency", "--json");
        Assert.That(r.Code, Is.Zero, r.Err);
        using (var doc = JsonDocument.Parse(r.Out)) Assert.That(doc.RootElement.GetProperty("weight_bits").GetInt32(), Is.EqualTo(8));
        Assert.That(LargestWeightCode(dir.File("q8.onnx")), Is.EqualTo(127));
        var bad = Run("quantize", Fixture, dir.File("q6.onnx"), "-c", "fashion-mnist", "--weight-bits", "6");
        Assert.That(bad.Code, Is.Not.Zero);
        Assert.That(bad.Err.Trim().Split('\n'), Has.Length.EqualTo(1), bad.Err);
        Assert.That(bad.Err.Trim(), Does.EndWith("--weight-bits 6: expected 7 or 8"));
        Assert.That(File.Exists(dir.File("q6.onnx")), Is.False);
    }

    [Category(Needs.FashionMnist)]
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

    [Category(Needs.FashionMnist)]
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
        Assert.That(r.Code, Is.EqualTo(option == "--calibration" ? 1 : 2), "a bad value is a usage error; a missing data set is a failure");
        Assert.That(r.Err.Trim().Split('\n'), Has.Length.EqualTo(1), r.Err);
        Assert.That(r.Err, Does.StartWith("edge-prep: error:").And.Contain(expected));
    }

    [Category(Needs.FashionMnist)]
    [TestCase("--auto-exclude", "--auto-exclude needs an evaluation set (--eval) to measure the loss on")]
    [TestCase("--samples=0", "--samples 0: expected at least 1")]
    public void RequestsTheQuantizerWouldRefuseAreSaidInTheToolsFlags(string flag, string expected)
    {
        using var dir = new TempDir();
        var r = Run("quantize", Fixture, dir.File("q.onnx"), "-c", "fashion-mnist", flag);
        Assert.That(r.Code, Is.EqualTo(2), "a usage error");
        Assert.That(r.Err.Trim(), Is.EqualTo($"edge-prep: error: {expected}"));
    }

    [Test]
    public void TheModelIsNeverOverwrittenAndAMissingOutputFolderIsSaidBeforeCalibrating()
    {
        using var dir = new TempDir();
        var model = dir.File("m.onnx");
        File.Copy(Fixture, model);
        var before = File.ReadAllBytes(model);
        var r = Run("quantize", model, model, "-c", "/nonexistent-data");
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err.Trim(), Is.EqualTo($"edge-prep: error: '{model}' is the model being quantized: write the INT8 model to another file (the FP32 one is needed to verify it)"));
        Assert.That(File.ReadAllBytes(model), Is.EqualTo(before));
        // The data set does not exist either: the output is checked first, so no calibration could have run.
        r = Run("quantize", model, dir.File("no/such/q.onnx"), "-c", "/nonexistent-data");
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.Err.Trim(), Is.EqualTo($"edge-prep: error: cannot write '{dir.File("no/such/q.onnx")}': the folder '{dir.File("no/such")}' does not exist"));
    }

    [Test]
    public void AMissingModelEndsWithOneLine()
    {
        var r = Run("quantize", "/nonexistent.onnx", "/tmp/x.onnx", "-c", "/nonexistent-data");
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.Err.Trim(), Is.EqualTo("edge-prep: error: model '/nonexistent.onnx' does not exist"));
    }

    [Category(Needs.FashionMnist), Category(Needs.Python)]
    [Test]
    public void AGraphWithACycleEndsWithOneLineNamingTheNode()
    {
        using var dir = new TempDir();
        Python.Run("""
            import sys, numpy as np, onnx
            from onnx import helper, TensorProto, numpy_helper
            x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 28, 28])
            y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])
            w = numpy_helper.from_array(np.ones((10, 1), np.float32), "W")
            b = numpy_helper.from_array(np.zeros(10, np.float32), "B")
            nodes = [helper.make_node("GlobalAveragePool", ["image"], ["p"]), helper.make_node("Flatten", ["p"], ["f"]),
                     helper.make_node("Add", ["f", "loop"], ["a"], name="add"), helper.make_node("Relu", ["a"], ["loop"], name="relu"),
                     helper.make_node("Gemm", ["loop", "W", "B"], ["logits"], transB=1)]
            m = helper.make_model(helper.make_graph(nodes, "cycle", [x], [y], [w, b]), opset_imports=[helper.make_opsetid("", 17)])
            m.ir_version = 8
            onnx.save(m, sys.argv[1])
            """, dir.File("cycle.onnx"));
        var r = Run("quantize", dir.File("cycle.onnx"), dir.File("q.onnx"), "-c", "fashion-mnist", "-n", "8", "--no-latency");
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.Err.Trim(), Is.EqualTo("edge-prep: error: the graph has a cycle or reads a tensor nothing produces: node 'add' (Add) waits for 'loop'"));
    }

    [Category(Needs.FashionMnist), Category(Needs.Python)]
    [Test]
    public void AModelWithNaNWeightsIsRefusedInsteadOfQuantized()
    {
        using var dir = new TempDir();
        Python.Run("""
            import sys, numpy as np, onnx, onnx.numpy_helper
            m = onnx.load(sys.argv[1])
            for t in m.graph.initializer:
                if t.data_type == onnx.TensorProto.FLOAT and len(t.dims) == 4:
                    a = onnx.numpy_helper.to_array(t).copy(); a.flat[7] = np.nan
                    t.CopyFrom(onnx.numpy_helper.from_array(a, t.name)); break
            onnx.save(m, sys.argv[2])
            """, Fixture, dir.File("nan.onnx"));
        var r = Run("quantize", dir.File("nan.onnx"), dir.File("q.onnx"), "-c", "fashion-mnist", "-n", "8", "--no-latency");
        Assert.That(r.Code, Is.EqualTo(1), r.Out);
        Assert.That(r.Err.Trim().Split('\n'), Has.Length.EqualTo(1), r.Err);
        Assert.That(r.Err, Does.Contain("holds 1 NaN or infinite value(s)"));
        Assert.That(File.Exists(dir.File("q.onnx")), Is.False);
    }
}
