using System.Text.Json;

namespace Edge.Daemon.Tests;

public class PipelineBenchTests
{
    [Category(Needs.Ffmpeg), Category(Needs.Python)]
    [Test]
    public void BenchOnALiveSourceReportsThroughputLatencyCpuAndMemory()
    {
        var r = Edged.Run("bench", "--source", "ffmpeg-testsrc", "--frames", "120", "--threads", "1", "--json");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        JsonSchemas.AssertValid(r.Stdout, "edged-bench-source"); // the names, as documented (memory in MiB: *_mib)
        // The check would see a name nobody documented (the old snake-case accident) and a missing one.
        Assert.That(JsonSchemas.Errors(r.Stdout.Replace("\"rss_end_mib\"", "\"rss_end_mi_b\""), "edged-bench-source"),
            Has.Some.Contains("rss_end_mi_b").And.Some.Contains("'rss_end_mib' is a required property"));
        var root = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.That(root.GetProperty("frames").GetInt32(), Is.GreaterThanOrEqualTo(120));
        Assert.That(root.GetProperty("classified_per_second").GetDouble(), Is.GreaterThan(0));
        Assert.That(root.GetProperty("capture_to_result_p99_ms").GetDouble(), Is.GreaterThanOrEqualTo(root.GetProperty("capture_to_result_p50_ms").GetDouble()));
        Assert.That(root.GetProperty("rss_end_mib").GetDouble(), Is.GreaterThan(10));
        Assert.That(root.GetProperty("cpu_percent_of_one_core").GetDouble(), Is.GreaterThan(0));
    }

    [Test]
    public void AStillSceneUnderAMotionTriggerClassifiesNothing()
    {
        var still = Path.Combine(RepoPaths.Models, "samples", "snow.jpg");
        var r = Edged.Run("bench", "--source", still, "--trigger", "motion", "--frames", "40", "--json");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        var root = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.That(root.GetProperty("classified_per_second").GetDouble(), Is.Zero);
        Assert.That(root.GetProperty("captured_per_second").GetDouble(), Is.GreaterThan(10));
    }
}
