using System.Device.Gpio;
using Edge.Core.Inference;
using Edge.Daemon.Actions;
using Edge.Daemon.Capture;
using Edge.Daemon.Pipeline;
using Edge.Daemon.Triggers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Daemon.Tests;

/// <summary>The pipeline in process, with GPIO faked at the driver and the shipped model and samples.</summary>
public class PipelineTests
{
    private static string Samples => Path.Combine(RepoPaths.Models, "samples");

    [Test]
    public async Task AGpioEdgeTriggersAClassificationAndARuleDrivesAnOutput()
    {
        var driver = new FakeGpioDriver();
        using var gpio = new GpioController(driver);
        using var classifier = Classifier.Load(Path.Combine(RepoPaths.Models, "colors.onnx"), new ClassifierOptions { MaxBatch = 1 });
        // sky.jpg only: every classification is "blue".
        var supervisor = new SourceSupervisor(() => new FolderSource(Path.Combine(Samples, "sky.jpg"), loop: true, fps: 50), TimeSpan.FromSeconds(2), NullLogger.Instance);
        using var rule = new GpioOutputRule(gpio, "blue", 0.5f, 23, TimeSpan.FromMilliseconds(200), NullLogger.Instance);
        await using var pipeline = new CameraPipeline(classifier, supervisor, null, NullLogger.Instance,
            new PipelineSettings { Mode = TriggerMode.Gpio, Burst = 2, Rules = [rule] });
        using var edge = new GpioEdgeTrigger(gpio, 17, PinMode.InputPullUp, PinEventTypes.Falling, TimeSpan.FromMilliseconds(10), () => pipeline.TriggerFromInput(), NullLogger.Instance);
        using var cts = new CancellationTokenSource();
        var run = pipeline.RunAsync(cts.Token);

        await Eventually.Until(() => pipeline.Counters.FramesCaptured >= 5, "frames");
        Assert.That(pipeline.Counters.FramesClassified, Is.Zero, "nothing classified before the edge");
        Assert.That(driver.Value(23), Is.EqualTo(PinValue.Low));
        driver.Set(17, PinValue.Low);
        await Eventually.Until(() => pipeline.Counters.FramesClassified == 2, "a burst of two classifications");
        Assert.That(pipeline.Latest!.Trigger, Is.EqualTo("gpio"));
        Assert.That(pipeline.Latest.Top[0].Label, Is.EqualTo("blue"));
        Assert.That(driver.Value(23), Is.EqualTo(PinValue.High), "the rule drove the output");
        await Eventually.Until(() => driver.Value(23) == PinValue.Low, "the output pulse to end");
        await Task.Delay(200);
        Assert.That(pipeline.Counters.FramesClassified, Is.EqualTo(2), "no more without another edge");
        cts.Cancel();
        await run;
    }

    [Test]
    public async Task MotionTriggersOnlyWhenTheSceneChanges()
    {
        using var dir = new TempDir();
        using var classifier = Classifier.Load(Path.Combine(RepoPaths.Models, "colors.onnx"), new ClassifierOptions { MaxBatch = 1 });
        File.Copy(Path.Combine(Samples, "snow.jpg"), dir.File("001.jpg"));
        // A watched folder: the same still scene again and again, then a different one.
        var supervisor = new SourceSupervisor(() => new FolderSource(dir.Path, loop: false, fps: 50), TimeSpan.FromSeconds(5), NullLogger.Instance);
        await using var pipeline = new CameraPipeline(classifier, supervisor, null, NullLogger.Instance,
            new PipelineSettings { Mode = TriggerMode.Motion, MotionCooldown = TimeSpan.Zero, MaxRate = 1000 });
        using var cts = new CancellationTokenSource();
        var run = pipeline.RunAsync(cts.Token);
        for (var i = 2; i <= 6; i++) File.Copy(Path.Combine(Samples, "snow.jpg"), dir.File($"{i:000}.jpg"));
        await Eventually.Until(() => pipeline.Counters.FramesCaptured >= 6, "still frames");
        Assert.That(pipeline.MotionEvents, Is.Zero);
        Assert.That(pipeline.Counters.FramesClassified, Is.Zero);
        File.Copy(Path.Combine(Samples, "night.jpg"), dir.File("007.jpg"));
        await Eventually.Until(() => pipeline.Counters.FramesClassified == 1, "a classification on motion");
        Assert.That(pipeline.Latest!.Trigger, Is.EqualTo("motion"));
        Assert.That(pipeline.Latest.Top[0].Label, Is.EqualTo("black"));
        cts.Cancel();
        await run;
    }

    [Test]
    public async Task SmoothingAveragesTheLastResults()
    {
        using var dir = new TempDir();
        File.Copy(Path.Combine(Samples, "sky.jpg"), dir.File("1.jpg"));
        File.Copy(Path.Combine(Samples, "night.jpg"), dir.File("2.jpg"));
        using var classifier = Classifier.Load(Path.Combine(RepoPaths.Models, "colors.onnx"), new ClassifierOptions { MaxBatch = 1 });
        var supervisor = new SourceSupervisor(() => new FolderSource(dir.Path, loop: false, fps: 50), TimeSpan.FromSeconds(5), NullLogger.Instance);
        await using var pipeline = new CameraPipeline(classifier, supervisor, null, NullLogger.Instance,
            new PipelineSettings { Mode = TriggerMode.Continuous, MaxRate = 1000, Smoothing = 2 });
        using var cts = new CancellationTokenSource();
        var run = pipeline.RunAsync(cts.Token);
        await Eventually.Until(() => pipeline.Counters.FramesClassified == 2, "two results");
        // The mean of a confident "blue" and a confident "black": both near 0.5.
        var top = pipeline.Latest!.Top;
        Assert.That(top.Take(2).Select(p => p.Label), Is.EquivalentTo(new[] { "blue", "black" }));
        Assert.That(top[0].Score, Is.InRange(0.4f, 0.6f));
        cts.Cancel();
        await run;
    }
}
