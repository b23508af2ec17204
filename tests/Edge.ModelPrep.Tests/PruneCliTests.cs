using System.Text.Json;

namespace Edge.ModelPrep.Tests;

/// <summary>train → prune (two steps, distilled) → resume → export → quantize through the real CLI, and its refusals.</summary>
public class PruneCliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => EdgePrep.Run(args);

    [Category(Needs.Training)]
    [Category(Needs.FashionMnist), Category(Needs.Python)]
    [Test]
    public void APrunedRunIsSmallerResumesWithoutRedoingStepsAndExportsAndQuantizesLikeAnyRun()
    {
        using var dir = new TempDir();
        var run = dir.File("run");
        var t = Run("train", "--data", "fashion-mnist", "--arch", "resnet20", "--width", "0.5", "--input-size", "16", "--lr", "0.05",
            "--epochs", "1", "--batch-size", "32", "--max-images", "800", "--threads", "2", "--no-eval", "--out", run);
        Assert.That(t.Code, Is.Zero, t.Err);

        var pruned = dir.File("pruned");
        string[] prune = ["prune", run, "--out", pruned, "--target-macs", "55%", "--steps", "2", "--epochs", "1", "--teacher", "source",
            "--max-images", "400", "--threads", "2", "--json"];
        var p = Run(prune);
        Assert.That(p.Code, Is.Zero, p.Err);
        JsonSchemas.AssertValid(p.Out, "edge-prep-prune");
        using var summary = JsonDocument.Parse(p.Out);
        var root = summary.RootElement;
        var steps = root.GetProperty("steps").EnumerateArray().ToList();
        Assert.That(steps, Has.Count.EqualTo(2));
        var before = root.GetProperty("before");
        var after = root.GetProperty("after");
        Assert.That(after.GetProperty("macs").GetInt64(), Is.LessThanOrEqualTo(before.GetProperty("macs").GetInt64() * 0.55));
        Assert.That(after.GetProperty("parameters").GetInt64(), Is.LessThan(before.GetProperty("parameters").GetInt64()));
        Assert.That(steps[0].GetProperty("macs_after").GetInt64(), Is.GreaterThan(steps[1].GetProperty("macs_after").GetInt64()), "budgets shrink step by step");
        Assert.That(steps[1].GetProperty("macs_before").GetInt64(), Is.EqualTo(steps[0].GetProperty("macs_after").GetInt64()));
        foreach (var g in steps[1].GetProperty("groups").EnumerateArray())
            Assert.That(g.GetProperty("after").GetInt32() % 8 == 0 || g.GetProperty("after").GetInt32() == g.GetProperty("before").GetInt32());
        Assert.That(after.GetProperty("test_top1").GetDouble(), Is.InRange(0, 100));
        Assert.That(File.ReadAllText(Path.Combine(pruned, "pruning.json")), Is.EqualTo(p.Out.TrimEnd('\n')).Or.EqualTo(p.Out));

        // Rerun: every stage is found, nothing pruned or trained again.
        var stamps = new[] { Path.Combine(pruned, "step-1", "pruned", "model.bin"), Path.Combine(pruned, "checkpoints", "last", "model.bin") }
            .ToDictionary(f => f, File.GetLastWriteTimeUtc);
        var again = Run([.. prune.Where(a => a != "--json"), "--resume", "--no-eval"]);
        Assert.That(again.Code, Is.Zero, again.Err);
        Assert.That(again.Err, Does.Contain("step 1: pruned network found").And.Contain("step 2: pruned network found"));
        Assert.That(again.Err, Does.Not.Contain("fine-tuning"));
        foreach (var (f, stamp) in stamps) Assert.That(File.GetLastWriteTimeUtc(f), Is.EqualTo(stamp), f);

        // Without --resume the run is not overwritten.
        var refused = Run(prune);
        Assert.That(refused.Code, Is.EqualTo(1));
        Assert.That(refused.Err, Does.Contain("already holds a run").And.Contain("--resume"));

        // Resuming with other settings, or into the source run itself, is refused rather than mixed.
        var changed = Run([.. prune.Select(a => a == "55%" ? "60%" : a), "--resume"]);
        Assert.That(changed.Code, Is.EqualTo(1));
        Assert.That(changed.Err, Does.Contain("other settings"));
        var intoSource = Run("prune", run, "--out", run, "--target-macs", "50%", "--resume");
        Assert.That(intoSource.Code, Is.EqualTo(1));
        Assert.That(intoSource.Err, Does.Contain("not a pruning run"));

        // Quantization-aware fine-tuning through the trainer keeps what the network knew (BatchNorm folded, not reset).
        var qat = Run("qat", run, "--out", dir.File("qat"), "--epochs", "1", "--max-images", "400", "--threads", "2", "--json");
        Assert.That(qat.Code, Is.Zero, qat.Err);
        JsonSchemas.AssertValid(qat.Out, "edge-prep-train");
        using var qatSummary = JsonDocument.Parse(qat.Out);
        var sourceVal = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "checkpoints", "best", "state.json"))).RootElement.GetProperty("best_val_accuracy").GetDouble();
        var qatVal = qatSummary.RootElement.GetProperty("best_val_accuracy").GetDouble();
        TestContext.Out.WriteLine($"validation: source {sourceVal:0.0}%, after QAT {qatVal:0.0}%");
        Assert.That(qatVal, Is.GreaterThan(Math.Min(40, sourceVal - 15)), "a network whose BatchNorm statistics were lost scores about 10%");

        var onnx = dir.File("pruned.onnx");
        var x = Run("export", pruned, "--out", onnx, "--json");
        Assert.That(x.Code, Is.Zero, x.Err);
        using var exported = JsonDocument.Parse(x.Out);
        Assert.That(exported.RootElement.GetProperty("macs").GetInt64(), Is.EqualTo(after.GetProperty("macs").GetInt64()));
        Assert.That(exported.RootElement.GetProperty("architecture").GetString(), Does.Contain("pruned"));
        Python.CheckModel(onnx);
        var q = Run("quantize", onnx, dir.File("pruned.int8.onnx"), "--calibration", "fashion-mnist", "--samples", "64");
        Assert.That(q.Code, Is.Zero, q.Err);
        var e = Run("eval", pruned, "--max-images", "500", "--latency-runs", "0", "--json");
        Assert.That(e.Code, Is.Zero, e.Err);
    }

    [TestCase("0%", "share such as 50%")]
    [TestCase("100%", "below 100%")]
    [TestCase("1.5", "below 1")]
    [TestCase("lots", "share such as 50%")]
    [TestCase("-3M", "share such as 50%")]
    public void ABadBudgetIsAUsageError(string budget, string message)
    {
        var r = Run("prune", "nowhere", "--out", "nowhere-else", "--target-macs", budget);
        Assert.That(r.Code, Is.EqualTo(2), r.Err);
        Assert.That(r.Err, Does.Contain("--target-macs").And.Contain(message));
        Assert.That(r.Err.Trim().Split('\n'), Has.Length.EqualTo(1));
    }

    [TestCase("--target-latency", "0ms", "expected milliseconds such as 0.2ms")]
    [TestCase("--target-latency", "100%", "below 100%")]
    [TestCase("--target-latency", "fast", "expected milliseconds such as 0.2ms")]
    [TestCase("--target-latency", "-1ms", "expected milliseconds such as 0.2ms")]
    public void ABadLatencyTargetIsAUsageError(string option, string value, string message)
    {
        var r = Run("prune", "nowhere", "--out", "nowhere-else", option, value);
        Assert.That(r.Code, Is.EqualTo(2), r.Err);
        Assert.That(r.Err, Does.Contain(message));
        Assert.That(r.Err.Trim().Split('\n'), Has.Length.EqualTo(1));
        var both = Run("prune", "nowhere", "--out", "nowhere-else", "--target-macs", "50%", "--target-latency", "0.2ms");
        Assert.That(both.Code, Is.EqualTo(2));
        Assert.That(both.Err.Trim(), Does.EndWith("give one target: --target-macs (50%, 10M) or --target-latency (0.2ms, 60%)"));
        var threads = Run("prune", "nowhere", "--out", "nowhere-else", "--target-latency", "0.2ms", "--latency-threads", "0");
        Assert.That(threads.Code, Is.EqualTo(2));
        Assert.That(threads.Err.Trim(), Does.EndWith("--latency-threads 0: expected 1..64"));
    }

    [Category(Needs.Training), Category(Needs.FashionMnist), Category(Needs.Python)]
    [Test]
    public void ALatencyTargetIsTurnedIntoAMacBudgetByMeasurementAndKeptOnResume()
    {
        using var dir = new TempDir();
        var run = dir.File("run");
        var t = Run("train", "--data", "fashion-mnist", "--arch", "resnet20", "--input-size", "28", "--epochs", "1", "--max-steps", "1",
            "--batch-size", "16", "--max-images", "200", "--threads", "1", "--no-eval", "--out", run);
        Assert.That(t.Code, Is.Zero, t.Err);

        // Nothing runs in a microsecond, and everything runs in ten seconds: both refused before anything is written.
        var tooFast = Run("prune", run, "--out", dir.File("none"), "--target-latency", "0.001ms");
        Assert.That(tooFast.Code, Is.EqualTo(1));
        Assert.That(tooFast.Err.Trim().Split('\n')[^1], Does.Contain("below the smallest network the minimums allow"));
        var tooSlow = Run("prune", run, "--out", dir.File("none"), "--target-latency", "10000ms");
        Assert.That(tooSlow.Code, Is.EqualTo(2));
        Assert.That(tooSlow.Err, Does.Contain("nothing to prune"));
        Assert.That(Directory.Exists(dir.File("none")), Is.False);

        var pruned = dir.File("pruned");
        string[] prune = ["prune", run, "--out", pruned, "--target-latency", "70%", "--epochs", "0", "--no-eval", "--json"];
        var p = Run(prune);
        Assert.That(p.Code, Is.Zero, p.Err);
        JsonSchemas.AssertValid(p.Out, "edge-prep-prune");
        using var summary = JsonDocument.Parse(p.Out);
        var root = summary.RootElement;
        var latency = root.GetProperty("latency");
        var target = latency.GetProperty("target_ms").GetDouble();
        var chosen = latency.GetProperty("chosen_macs").GetInt64();
        Assert.That(latency.GetProperty("chosen_ms").GetDouble(), Is.LessThanOrEqualTo(target));
        Assert.That(target, Is.EqualTo(0.7 * latency.GetProperty("source_ms").GetDouble()).Within(1e-9), "70% of the unpruned network's latency, measured once");
        var probes = latency.GetProperty("probes").EnumerateArray()
            .Select(x => (Macs: x.GetProperty("macs").GetInt64(), Ms: x.GetProperty("latency_ms").GetDouble())).ToList();
        Assert.That(probes, Has.Count.EqualTo(8), "the smallest network, then seven bisection steps");
        Assert.That(probes.Where(x => x.Ms <= target).Max(x => x.Macs), Is.EqualTo(chosen), "the largest candidate that met the target");
        var after = root.GetProperty("after").GetProperty("macs").GetInt64();
        Assert.That(after, Is.LessThanOrEqualTo(chosen).And.LessThan(root.GetProperty("before").GetProperty("macs").GetInt64()));
        Assert.That(File.Exists(Path.Combine(pruned, "latency-search.json")), Is.True);

        // Resumed: the budget is read back, not measured again (a second measurement could choose another).
        var again = Run([.. prune, "--resume"]);
        Assert.That(again.Code, Is.Zero, again.Err);
        Assert.That(again.Err, Does.Contain("latency-search.json").And.Not.Contain("the unpruned network takes"));
        using var second = JsonDocument.Parse(again.Out);
        Assert.That(second.RootElement.GetProperty("after").GetProperty("macs").GetInt64(), Is.EqualTo(after));
    }

    [Category(Needs.Training), Category(Needs.FashionMnist), Category(Needs.Python)]
    [Test]
    public void AnUnreachableBudgetIsRefusedBeforeAnyWork()
    {
        using var dir = new TempDir();
        var run = dir.File("run");
        var t = Run("train", "--data", "fashion-mnist", "--arch", "resnet20", "--width", "0.25", "--input-size", "16",
            "--epochs", "1", "--max-steps", "1", "--batch-size", "16", "--max-images", "200", "--threads", "1", "--no-eval", "--out", run);
        Assert.That(t.Code, Is.Zero, t.Err);
        var r = Run("prune", run, "--out", dir.File("p"), "--target-macs", "10%", "--steps", "3");
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.Err, Does.Contain("below the smallest network").And.Contain("--min-channels 8"));
        Assert.That(r.Err, Does.Not.Contain("step 1"));
        Assert.That(Directory.Exists(dir.File("p")), Is.False, "nothing written");

        // ResNet-20 has 7 blocks with an identity shortcut: an eighth is refused before any work, in one line.
        var tooMany = Run("prune", run, "--out", dir.File("p"), "--target-macs", "50%", "--drop-blocks", "8");
        Assert.That(tooMany.Code, Is.EqualTo(2), tooMany.Err);
        Assert.That(tooMany.Err.Trim().Split('\n'), Has.Length.EqualTo(1), tooMany.Err);
        Assert.That(tooMany.Err, Does.Contain("--drop-blocks 8: resnet20-0.25 16x16x1 → 10 classes has 7 residual blocks"));
        Assert.That(Directory.Exists(dir.File("p")), Is.False, "nothing written");
        // Two dropped: the report (schema-checked) shows their groups at 0, and the table says so.
        var dropped = Run("prune", run, "--out", dir.File("d"), "--target-macs", "75%", "--drop-blocks", "2", "--epochs", "0", "--no-eval", "--json");
        Assert.That(dropped.Code, Is.Zero, dropped.Err);
        JsonSchemas.AssertValid(dropped.Out, "edge-prep-prune");
        using var report = JsonDocument.Parse(dropped.Out);
        var groups = report.RootElement.GetProperty("steps")[0].GetProperty("groups").EnumerateArray().ToList();
        Assert.That(groups.Count(g => g.GetProperty("after").GetInt32() == 0), Is.EqualTo(2));
        Assert.That(dropped.Err, Does.Contain("0 (block dropped)"));

        // By latency: the blocks with least strength per millisecond of INT8 time (recomputed here from the report's
        // own figures) go, and a resumed run reads the timing back instead of profiling again.
        string[] byLatency = ["prune", run, "--out", dir.File("l"), "--target-macs", "75%", "--drop-blocks", "2", "--drop-by", "latency", "--epochs", "0", "--no-eval", "--json"];
        var timed = Run(byLatency);
        Assert.That(timed.Code, Is.Zero, timed.Err);
        JsonSchemas.AssertValid(timed.Out, "edge-prep-prune");
        using var timedReport = JsonDocument.Parse(timed.Out);
        var blocks = timedReport.RootElement.GetProperty("blocks").GetProperty("blocks").EnumerateArray()
            .Select(b => (Group: b.GetProperty("group").GetString()!, Strength: b.GetProperty("strength").GetDouble(), Ms: b.GetProperty("cost_ms").GetDouble())).ToList();
        Assert.That(blocks, Has.Count.EqualTo(7));
        var expected = blocks.OrderBy(b => b.Ms > 0 ? b.Strength / b.Ms : double.PositiveInfinity).ThenBy(b => b.Strength).Take(2).Select(b => b.Group);
        var droppedByLatency = timedReport.RootElement.GetProperty("steps")[0].GetProperty("groups").EnumerateArray()
            .Where(g => g.GetProperty("after").GetInt32() == 0).Select(g => g.GetProperty("group").GetString());
        Assert.That(droppedByLatency, Is.EquivalentTo(expected));
        Assert.That(timed.Err, Does.Contain("profiling the INT8 network"));
        var resumed = Run([.. byLatency, "--resume"]);
        Assert.That(resumed.Code, Is.Zero, resumed.Err);
        Assert.That(resumed.Err, Does.Contain("block-latency.json").And.Not.Contain("profiling"));
        using (var again = JsonDocument.Parse(resumed.Out))
            Assert.That(again.RootElement.GetProperty("steps")[0].GetProperty("groups").EnumerateArray()
                .Where(g => g.GetProperty("after").GetInt32() == 0).Select(g => g.GetProperty("group").GetString()), Is.EquivalentTo(expected));
        // A timing that is not this network's, or none, is refused in one line: another could drop other blocks.
        var timing = Path.Combine(dir.File("l"), "block-latency.json");
        var good = File.ReadAllText(timing);
        foreach (var bad in new[]
        {
            "{\"threads\": 1, \"runs\": 1, \"kernel_ms\": 1, \"blocks\": []}", "{\"threads\": 1, \"runs\": 1, \"kernel_ms\": 1, \"blocks\": [null]}",
            good[..(good.Length / 2)], good.Replace("\"cost_ms\"", "\"costs\""), good.Replace("\"threads\": 1", "\"threads\": 2"),
        })
        {
            File.WriteAllText(timing, bad);
            var corrupt = Run([.. byLatency, "--resume"]);
            Assert.That(corrupt.Code, Is.EqualTo(1), bad);
            Assert.That(corrupt.Err.Trim().Split('\n'), Has.Length.EqualTo(1), corrupt.Err);
            Assert.That(corrupt.Err, Does.Contain("is not a block timing of this network"), bad);
        }
        File.Delete(timing);
        var gone = Run([.. byLatency, "--resume"]);
        Assert.That(gone.Code, Is.Not.Zero);
        Assert.That(gone.Err.Trim(), Does.EndWith("block-latency.json is gone: the blocks it dropped cannot be chosen again; choose another --out"));
    }

    [Test]
    public void DropByNeedsBlocksToDropAndAKnownOrder()
    {
        var r = Run("prune", "nowhere", "--out", "nowhere-else", "--target-macs", "50%", "--drop-by", "latency");
        Assert.That(r.Code, Is.EqualTo(2), r.Err);
        Assert.That(r.Err.Trim().Split('\n'), Has.Length.EqualTo(1), r.Err);
        Assert.That(r.Err.Trim(), Does.EndWith("--drop-by latency: give --drop-blocks N, the number of blocks to drop"));
        var bad = Run("prune", "nowhere", "--out", "nowhere-else", "--target-macs", "50%", "--drop-blocks", "2", "--drop-by", "speed");
        Assert.That(bad.Code, Is.EqualTo(2), bad.Err);
        Assert.That(bad.Err.Trim(), Does.EndWith("--drop-by 'speed': expected strength or latency"));
    }

    [Test]
    public void AMissingSourceIsOneLineNamingIt()
    {
        using var dir = new TempDir();
        var r = Run("prune", dir.File("no-run"), "--out", dir.File("p"), "--target-macs", "50%");
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.Err, Does.Contain("no-run").And.Contain("neither a checkpoint folder"));
        Assert.That(r.Err.Trim().Split('\n'), Has.Length.EqualTo(1));
    }
}
