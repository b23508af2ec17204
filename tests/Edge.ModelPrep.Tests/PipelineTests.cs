using System.Text.Json;

namespace Edge.ModelPrep.Tests;

/// <summary>edge-prep pipeline through the real CLI on a small budget: every stage, the report, and resuming without redoing.</summary>
public class PipelineTests
{
    private const string Tiny = """
        { "teacher_epochs": 1, "teacher_width": 0.25, "student_epochs": 1, "student_width": 0.35, "student_stem_stride": 2, "prune_drop_blocks": 1, "prune_epochs": 1, "qat_epochs": 1,
          "max_images": 300, "calibration_samples": 32, "eval_images": 200, "qat": "always", "threads": 2 }
        """;

    [Category(Needs.Training), Category(Needs.FashionMnist), Category(Needs.Python)]
    [Test]
    public void APipelineRunsEveryStageReportsThemAndARerunRedoesOnlyWhatIsMissing()
    {
        using var dir = new TempDir();
        var config = dir.File("pipeline.json");
        File.WriteAllText(config, Tiny);
        var output = dir.File("out");
        var r = EdgePrep.Run("pipeline", "--data", "fashion-mnist", "--out", output, "--config", config, "--json");
        Assert.That(r.Code, Is.Zero, r.Err);
        JsonSchemas.AssertValid(r.Out, "edge-prep-pipeline");
        using var summary = JsonDocument.Parse(r.Out);
        var stages = summary.RootElement.GetProperty("stages").EnumerateArray().Select(s => (s.GetProperty("stage").GetString(), s.GetProperty("status").GetString())).ToList();
        // qat: always, so the quantization-aware stages run whatever post-training INT8 loses.
        Assert.That(stages.Select(s => s.Item1), Is.EqualTo(new[] { "teacher", "student", "prune", "pruned export", "pruned quantize", "qat", "qat export", "qat quantize" }));
        Assert.That(stages.All(s => s.Item2 == "ran"));
        var studentCommand = summary.RootElement.GetProperty("stages")[1].GetProperty("command").GetString();
        Assert.That(studentCommand, Does.Contain("--stem-stride 2"), "student_stem_stride reaches the student");
        // A block dropped by the pruning stage goes through export, quantization, QAT and Grad-CAM like the rest.
        Assert.That(summary.RootElement.GetProperty("stages")[2].GetProperty("command").GetString(), Does.Contain("--drop-blocks 1"));
        var points = summary.RootElement.GetProperty("points").EnumerateArray().ToList();
        Assert.That(points.Select(p => $"{p.GetProperty("stage").GetString()} {p.GetProperty("precision").GetString()}"),
            Is.EqualTo(new[] { "teacher FP32", "student FP32", "pruned FP32", "pruned INT8", "qat INT8" }));
        Assert.That(points[2].GetProperty("macs").GetInt64(), Is.LessThanOrEqualTo(points[1].GetProperty("macs").GetInt64() / 2), "pruned to 50% of the student");
        Assert.That(points.All(p => p.GetProperty("latency_p50_ms").GetDouble() > 0));
        var report = File.ReadAllText(Path.Combine(output, "report", "report.md"));
        Assert.That(report, Does.Contain("| qat | INT8 |").And.Contain("accuracy-latency.png").And.Contain("gradcam-00-0.png").And.Contain("edge-prep prune"));
        Assert.That(File.Exists(Path.Combine(output, "report", "accuracy-latency.png")));
        Assert.That(Directory.GetFiles(Path.Combine(output, "report"), "gradcam-*.png"), Has.Length.EqualTo(10), "one heatmap per class");
        Python.CheckModel(summary.RootElement.GetProperty("final").GetString()!);

        // Lose the later stages, as if the pipeline had stopped after distillation: a rerun keeps the teacher and student as they are.
        var student = Path.Combine(output, "student", "checkpoints", "last", "model.bin");
        var stamp = File.GetLastWriteTimeUtc(student);
        Directory.Delete(Path.Combine(output, "pruned"), true);
        foreach (var f in Directory.GetFiles(output, "*.onnx")) File.Delete(f);
        var again = EdgePrep.Run("pipeline", "--data", "fashion-mnist", "--out", output, "--config", config, "--json");
        Assert.That(again.Code, Is.Zero, again.Err);
        using var second = JsonDocument.Parse(again.Out);
        var statuses = second.RootElement.GetProperty("stages").EnumerateArray().ToDictionary(s => s.GetProperty("stage").GetString()!, s => s.GetProperty("status").GetString());
        Assert.That(statuses["teacher"], Is.EqualTo("kept"));
        Assert.That(statuses["student"], Is.EqualTo("kept"));
        Assert.That(statuses["qat"], Is.EqualTo("ran"), "made from the old pruned network: made again");
        Assert.That(statuses["prune"], Is.EqualTo("ran"));
        Assert.That(statuses["pruned quantize"], Is.EqualTo("ran"));
        Assert.That(File.GetLastWriteTimeUtc(student), Is.EqualTo(stamp));
        Assert.That(again.Err, Does.Contain("teacher: done before, kept").And.Contain("qat: an earlier stage ran again"));

        // Other settings in the same folder are refused, not mixed with these stages.
        File.WriteAllText(config, Tiny.Replace("\"student_width\": 0.35", "\"student_width\": 0.5"));
        var other = EdgePrep.Run("pipeline", "--data", "fashion-mnist", "--out", output, "--config", config);
        Assert.That(other.Code, Is.EqualTo(1));
        Assert.That(other.Err, Does.Contain("other data or settings"));
    }

    [TestCase("{ \"teacher_epoch\": 3 }", "unknown key 'teacher_epoch'")]
    [TestCase("{ \"prune_teacher\": \"everyone\" }", "prune_teacher 'everyone'")]
    [TestCase("{ \"student_epochs\": 0 }", "student_epochs 0")]
    [TestCase("{ \"student_epochs\": \"ten\" }", "student_epochs")]
    [TestCase("[1, 2]", "not valid settings")]
    [TestCase("{ \"student_arch\": \"vgg\" }", "student_arch 'vgg'")]
    [TestCase("{ \"prune_target\": \"half\" }", "prune_target")]
    [TestCase("{ \"prune_latency\": \"soon\" }", "prune_latency: --target-latency 'soon'")]
    [TestCase("{ \"prune_epochs\": 0 }", "prune_epochs 0")]
    [TestCase("{ \"qat\": \"sometimes\" }", "qat 'sometimes'")]
    [TestCase("{ \"student_stem_stride\": 3 }", "student_stem_stride 3: expected 1 or 2")]
    [TestCase("{ \"prune_drop_blocks\": -1 }", "prune_drop_blocks -1: expected 0..64")]
    [TestCase("{ \"prune_drop_blocks\": 2, \"student_arch\": \"mobilenetv3-small\" }", "prune_drop_blocks: MobileNetV3-Small's blocks cannot be dropped")]
    [TestCase("{ \"prune_drop_by\": \"fastest\", \"prune_drop_blocks\": 2 }", "prune_drop_by 'fastest': expected strength or latency")]
    [TestCase("{ \"prune_drop_by\": \"latency\" }", "prune_drop_by latency: give prune_drop_blocks")]
    public void BadSettingsAreOneLineNamingTheKey(string json, string message)
    {
        using var dir = new TempDir();
        var config = dir.File("pipeline.json");
        File.WriteAllText(config, json);
        var r = EdgePrep.Run("pipeline", "--data", dir.Path, "--out", dir.File("out"), "--config", config);
        Assert.That(r.Code, Is.EqualTo(2), r.Err);
        Assert.That(r.Err, Does.Contain(message));
        Assert.That(r.Err.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(Directory.Exists(dir.File("out")), Is.False);
    }
}
