using System.Text.Json;
using Edge.Core.Inference;
using Edge.Daemon.Capture;
using Edge.Daemon.Models;
using Edge.Daemon.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Daemon.Tests;

/// <summary>Several cameras in one daemon: a shared model without cross-talk, one camera failing alone, per-camera status, metrics, results.</summary>
[NonParallelizable]
public class MultiCameraTests
{
    private static string Samples => Path.Combine(RepoPaths.Models, "samples");

    [Test]
    public async Task TwoCamerasSharingOneModelEachGetTheirOwnFramesResults()
    {
        // The expectation comes from classifying each image on its own, one at a time: with one session and one set of
        // buffers shared, a camera reading another's scores would show as a wrong label or score.
        var model = Path.Combine(RepoPaths.Models, "colors.onnx");
        using var reference = Classifier.Load(model);
        var sky = reference.Classify(File.ReadAllBytes(Path.Combine(Samples, "sky.jpg")), 1).Top[0];
        var tomatoes = reference.Classify(File.ReadAllBytes(Path.Combine(Samples, "tomatoes.jpg")), 1).Top[0];
        Assert.That(sky.Label, Is.Not.EqualTo(tomatoes.Label), "the two images must differ for this test to mean anything");

        using var classifier = Classifier.Load(model);
        using var models = new ModelSwitch(new LoadedModel(classifier, null, ModelIdentity.Of(classifier, "test", "configured", DateTimeOffset.UtcNow), ownsClassifiers: false));
        SourceSupervisor Source(string file) =>
            new(() => new FolderSource(Path.Combine(Samples, file), loop: true, fps: 200), TimeSpan.FromSeconds(5), NullLogger.Instance);
        var settings = new PipelineSettings { MaxRate = 1000, Lossless = true };
        await using var a = new CameraPipeline(models, Source("sky.jpg"), null, NullLogger.Instance, settings with { CameraName = "a" });
        await using var b = new CameraPipeline(models, Source("tomatoes.jpg"), null, NullLogger.Instance, settings with { CameraName = "b" });
        using var cts = new CancellationTokenSource();
        var runs = new[] { a.RunAsync(cts.Token), b.RunAsync(cts.Token) };
        var seen = new List<string>();
        // Sampled while both run: every latest result of each camera is its own image's.
        while (a.Counters.FramesClassified < 200 || b.Counters.FramesClassified < 200)
        {
            if (runs.Any(r => r.IsCompleted)) Assert.Fail("a camera stopped");
            foreach (var (camera, expected) in new[] { (a, sky), (b, tomatoes) })
                if (camera.Latest is { } latest)
                {
                    Assert.That(latest.Top[0].Label, Is.EqualTo(expected.Label), camera.CameraName);
                    Assert.That(latest.Top[0].Score, Is.EqualTo(expected.Score).Within(1e-6f), camera.CameraName);
                    seen.Add(camera.CameraName);
                }
            await Task.Delay(1);
        }
        cts.Cancel();
        await Task.WhenAll(runs);
        Assert.That(seen.Distinct(), Is.EquivalentTo(new[] { "a", "b" }));
        Assert.That(a.Counters.InferenceErrors + b.Counters.InferenceErrors, Is.Zero);
    }

    [Category(Needs.Python)]
    [Test]
    public async Task OneCameraWhoseSourceDiesDoesNotStopTheOtherAndEachShowsOnItsOwn()
    {
        using var dir = new TempDir();
        var db = dir.File("results.db");
        File.WriteAllText(dir.File("edged.json"), """
            { "Cameras": [
                { "Name": "door", "Source": { "Kind": "image", "Fps": 20 }, "Trigger": { "MaxRate": 20 },
                  "Regions": [ { "Name": "left", "X": 0, "Y": 0, "Width": 0.5, "Height": 1 }, { "Name": "right", "X": 0.5, "Y": 0, "Width": 0.5, "Height": 1 } ] },
                { "Name": "bin", "Source": { "Kind": "pipe", "Command": "false", "NoFrameTimeoutMs": 500 } } ] }
            """);
        await using var d = new DaemonProcess(["--config", dir.File("edged.json"), $"--Store:Path={db}"]);
        await d.WaitListeningAsync();
        async Task<JsonElement> Status() => JsonDocument.Parse(await d.Client.GetStringAsync("api/status")).RootElement.Clone();
        JsonElement Camera(JsonElement s, string name) => s.GetProperty("cameras").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        // The dead camera is reported unhealthy once its grace (10 s) has passed, by name, while the other goes on.
        await d.WaitUntilAsync(async () => (await d.HealthAsync()).Body.Contains("camera bin: source: reconnecting"), "the bin camera reported", seconds: 40);
        var before = Camera(await Status(), "door").GetProperty("frames_classified").GetInt64();
        await d.WaitUntilAsync(async () => Camera(await Status(), "door").GetProperty("frames_classified").GetInt64() >= before + 10, "the door camera going on");

        var s = await Status();
        Assert.That(s.GetProperty("camera").GetString(), Is.EqualTo("door"), "the top level is the first camera's");
        Assert.That(s.GetProperty("health").GetProperty("ok").GetBoolean(), Is.False);
        var door = Camera(s, "door");
        var bin = Camera(s, "bin");
        Assert.That(door.GetProperty("health").GetProperty("ok").GetBoolean(), Is.True);
        Assert.That(door.GetProperty("source").GetProperty("state").GetString(), Is.EqualTo("Running"));
        Assert.That(door.GetProperty("regions").EnumerateArray().Select(r => r.GetProperty("name").GetString()), Is.EqualTo(new[] { "left", "right" }));
        Assert.That(bin.GetProperty("health").GetProperty("ok").GetBoolean(), Is.False);
        Assert.That(bin.GetProperty("source").GetProperty("state").GetString(), Is.EqualTo("Reconnecting"));
        Assert.That(bin.GetProperty("frames_captured").GetInt64(), Is.Zero);

        // Metrics: one line per camera (PageAndMetricsTests has promtool check them).
        var metrics = await d.Client.GetStringAsync("metrics");
        var lines = metrics.Split('\n');
        Assert.That(lines, Does.Contain("edged_source_up{camera=\"door\"} 1"));
        Assert.That(lines, Does.Contain("edged_source_up{camera=\"bin\"} 0"));
        Assert.That(lines, Does.Contain("edged_camera_healthy{camera=\"bin\"} 0"));
        Assert.That(lines, Does.Contain("edged_frames_classified_total{camera=\"bin\"} 0"));
        Assert.That(lines.Any(l => l.StartsWith("edged_region_results_total{camera=\"door\",region=\"right\"} ", StringComparison.Ordinal)), Is.True);

        // Frames and triggers by camera; an unknown camera is a 404 naming the cameras there are.
        var frame = await d.Client.GetByteArrayAsync("api/frame/latest.jpg?camera=door");
        Assert.That(frame[..2], Is.EqualTo(new byte[] { 0xFF, 0xD8 }));
        using (var none = await d.Client.GetAsync("api/frame/latest.jpg?camera=bin")) Assert.That((int)none.StatusCode, Is.EqualTo(404));
        using (var unknown = await d.Client.GetAsync("api/frame/latest.jpg?camera=garage"))
        {
            Assert.That((int)unknown.StatusCode, Is.EqualTo(404));
            Assert.That(await unknown.Content.ReadAsStringAsync(), Does.Contain("door, bin"));
        }
        using (var trigger = await d.Client.PostAsync("api/trigger?camera=bin", null))
        {
            Assert.That((int)trigger.StatusCode, Is.EqualTo(202));
            Assert.That(await trigger.Content.ReadAsStringAsync(), Does.Contain("\"cameras\":[\"bin\"]"));
        }

        Assert.That(await d.StopAsync(), Is.Zero, d.Log);
        // Results name their camera and region, read back by Python's sqlite3.
        var rows = Python.Run("""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            print(sorted(c.execute("select camera, region from results group by camera, region").fetchall()))
            """, db).Trim();
        Assert.That(rows, Is.EqualTo("[('door', 'left'), ('door', 'right')]"));
    }

    [Test]
    public void CameraSettingsAreCheckedAndNamedByTheirKeys()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("edged.json"), """
            { "Source": { "Kind": "pipe", "Command": "x" },
              "Cameras": [
                { "Name": "door", "Source": { "Kind": "image" } },
                { "Name": "door", "Source": { "Kind": "webcam" }, "Trigger": { "MaxRate": 0 },
                  "Regions": [ { "Name": "a", "X": 0.9, "Y": 0, "Width": 0.5, "Height": 0.5 } ], "Model": "/nonexistent.onnx" },
                { "Name": "bad name", "Source": { "Kind": "image", "Name": "other" }, "Trigger": { "Mode": "pir", "Pir": { "Pin": 5 } } } ],
              "Actions": { "Rules": [ { "Label": "red", "Pin": 5, "Camera": "garage" }, { "Label": "red", "Pin": 6, "Camera": "door", "Region": "b" } ] } }
            """);
        var r = Edged.Run("check", "--config", dir.File("edged.json"));
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr, Does.Contain("Source: with Cameras, each camera has its own (Cameras:N:Source)"));
        Assert.That(r.Stderr, Does.Contain("Cameras:1:Name: 'door' is used twice"));
        Assert.That(r.Stderr, Does.Contain("Cameras:1:Source:Kind: 'webcam' is not one of"));
        Assert.That(r.Stderr, Does.Contain("Cameras:1:Trigger:MaxRate: must be in (0, 1000]"));
        Assert.That(r.Stderr, Does.Contain("Cameras:1:Regions:0: the rectangle leaves the frame"));
        Assert.That(r.Stderr, Does.Contain("Cameras:1:Model: '/nonexistent.onnx' does not exist"));
        Assert.That(r.Stderr, Does.Contain("Cameras:2:Name: 'bad name' must be"));
        Assert.That(r.Stderr, Does.Contain("Actions:Rules:0:Camera: 'garage' is not one of the Cameras (door, door, bad name)"));
        Assert.That(r.Stderr, Does.Contain("Actions:Rules:1:Region: 'b' is not one of the door camera's Regions (a)"));
        Assert.That(r.Stderr, Does.Contain("Cameras:2:Source:Name: the camera's name is Cameras:2:Name"));
        Assert.That(r.Stderr, Does.Contain("Cameras:2:Trigger:Pir:Pin: pin 5 is also Actions:Rules:0:Pin; each GPIO line has one use"));
        Assert.That(r.Stderr, Does.Not.Contain("   at "), "no stack trace");

        // Cameras sharing the model: at most 16 regions in all (each crop size keeps a resize plan of the shared model).
        static string Camera(int n) => $$"""{ "Name": "c{{n}}", "Source": { "Kind": "image" }, "Regions": [ {{string.Join(", ",
            Enumerable.Range(0, 9).Select(i => $$"""{ "Name": "r{{i}}", "X": 0, "Y": 0, "Width": 0.5, "Height": 0.5 }"""))}} ] }""";
        File.WriteAllText(dir.File("many.json"), $$"""{ "Cameras": [ {{Camera(1)}}, {{Camera(2)}} ] }""");
        r = Edged.Run("check", "--config", dir.File("many.json"));
        Assert.That(r.Stderr, Does.Contain("Cameras: the cameras sharing Model:Path classify 18 regions"));
    }

    [Test]
    public void CheckOpensEveryCameraWithTheModelItRuns()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("edged.json"), $$"""
            { "Cameras": [
                { "Name": "sky", "Source": { "Kind": "image", "Path": "{{Path.Combine(Samples, "sky.jpg")}}" } },
                { "Name": "tomatoes", "Source": { "Kind": "image", "Path": "{{Path.Combine(Samples, "tomatoes.jpg")}}" },
                  "Model": "{{Path.Combine(RepoPaths.Models, "colors.onnx")}}" } ] }
            """);
        var r = Edged.Run("check", "--config", dir.File("edged.json"));
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        Assert.That(r.Stdout, Does.Contain("camera sky: source: image: ").And.Contain("camera sky: classified: blue"));
        Assert.That(r.Stdout, Does.Contain("camera tomatoes: model: ").And.Contain("camera tomatoes: classified: red"));
    }
}
