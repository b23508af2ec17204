namespace Edge.ModelPrep.Tests;

/// <summary>ONNX Runtime's usage telemetry (a device id and event database under ~/.cache, then uploads) stays off.</summary>
public class NoTelemetryTests
{
    [Test, Category(Needs.FashionMnist)]
    public void EvaluatingAnOnnxModelWritesNothingUnderHome()
    {
        using var home = new TempDir();
        using var report = new TempDir();
        var r = EdgePrep.Run(new Dictionary<string, string> { ["HOME"] = home.Path, ["XDG_CACHE_HOME"] = "" },
            "eval", Path.Combine(RepoPaths.Models, "fashion-mnist-resnet20-pruned.int8.onnx"), "--data", "fashion-mnist", "--max-images", "50",
            "--latency-runs", "0", "--out", report.Path);
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(Directory.GetFileSystemEntries(home.Path, "*", SearchOption.AllDirectories), Is.Empty, "ONNX Runtime wrote under HOME");
    }
}
