using System.Globalization;
using System.Threading.Channels;
using Edge.Core.Inference;
using Edge.Daemon.Capture;
using Edge.Daemon.Http;
using Edge.Daemon.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Daemon.Tests;

/// <summary>The pipeline's rate limit, motion cooldown and metrics, with frames handed in one by one on a fake clock.</summary>
public class PipelineClockTests
{
    private static async Task Until(Func<bool> condition, string what)
    {
        // Waiting for the pipeline's task to get somewhere, not timing: the clock is fake.
        for (var i = 0; i < 4000 && !condition(); i++) await Task.Delay(5);
        Assert.That(condition(), Is.True, what);
    }

    /// <summary>A camera whose frames the test hands in.</summary>
    private sealed class ManualSource(ChannelReader<Frame> frames) : IFrameSource
    {
        public string Description => "manual";
        public ValueTask OpenAsync(CancellationToken ct) => ValueTask.CompletedTask;
        public async ValueTask<Frame?> ReadAsync(CancellationToken ct) => await frames.ReadAsync(ct);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>
    /// Feeds frames at the given times, each once the one before has been taken, and returns which were classified:
    /// every classification leaves a snapshot named by its frame's time.
    /// </summary>
    private static async Task<bool[]> Feed(PipelineSettings settings, IReadOnlyList<byte[]> frames, IReadOnlyList<TimeSpan> at)
    {
        using var dir = new TempDir();
        var clock = new FakeTimeProvider();
        var start = clock.GetUtcNow();
        var channel = Channel.CreateUnbounded<Frame>();
        using var classifier = Classifier.Load(Path.Combine(RepoPaths.Models, "colors.onnx"), new ClassifierOptions { MaxBatch = 1 });
        var supervisor = new SourceSupervisor(() => new ManualSource(channel.Reader), TimeSpan.FromHours(1), NullLogger.Instance, clock: clock);
        var snapshots = new Actions.SnapshotWriter(dir.Path, maxFiles: 1000, minFreeBytes: 0, NullLogger.Instance);
        await using var pipeline = new CameraPipeline(classifier, supervisor, null, NullLogger.Instance, settings with { Snapshots = snapshots }, clock: clock);
        using var cts = new CancellationTokenSource();
        var run = pipeline.RunAsync(cts.Token);
        for (var k = 0; k < frames.Count; k++)
        {
            clock.Advance(start + at[k] - clock.GetUtcNow());
            channel.Writer.TryWrite(Frame.Copy(frames[k], k + 1, clock.GetUtcNow()));
            await Until(() => pipeline.LatestFrame() is { } f && f.AsSpan().SequenceEqual(frames[k]), $"frame {k} to be taken");
        }
        // A triggered sentinel, classified whatever the rate: once it is, every frame before it has been decided (one consumer, in order).
        pipeline.Trigger();
        clock.Advance(TimeSpan.FromMinutes(1)); // past any rate limit or cooldown, short of the source watchdog (an hour)
        channel.Writer.TryWrite(Frame.Copy(TestImages.SolidJpeg(32, 24, 1, 2, 3), frames.Count + 1, clock.GetUtcNow()));
        await Until(() => pipeline.Latest?.Trigger == "http", "the sentinel");
        cts.Cancel();
        await run;
        var classified = new bool[frames.Count];
        foreach (var file in Directory.GetFiles(dir.Path))
        {
            var time = DateTimeOffset.ParseExact(Path.GetFileName(file)[..19], "yyyyMMdd-HHmmss.fff", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
            var k = at.ToList().IndexOf(time - start);
            if (k >= 0) classified[k] = true;
        }
        return classified;
    }

    [Test]
    public async Task ContinuousModeKeepsToMaxRateOnTheClock()
    {
        // 25 fps for 2 s at MaxRate 10: after the start, exactly one in every 100 ms.
        var frames = Enumerable.Range(0, 50).Select(i => TestImages.SolidJpeg(32, 24, (byte)(i * 5), 100, 100)).ToList();
        var at = Enumerable.Range(0, 50).Select(i => TimeSpan.FromMilliseconds(40 * i)).ToList();
        var classified = await Feed(new PipelineSettings { Mode = TriggerMode.Continuous, MaxRate = 10 }, frames, at);
        Assert.That(classified[0], Is.True, "the first frame");
        Assert.That(classified.Skip(25).Count(c => c), Is.EqualTo(10), "the second second (1000..1960 ms): ten");
        Assert.That(classified.Count(c => c), Is.InRange(20, 21), "two seconds: twenty (one more allowed for the start)");
    }

    [Test]
    public async Task MotionIsClassifiedAtMostOncePerCooldown()
    {
        // Every frame differs from the last (dark, bright, dark...) every 100 ms for 3 s; a cooldown of 1 s.
        var dark = TestImages.SolidJpeg(64, 48, 10, 10, 10);
        var bright = TestImages.SolidJpeg(64, 48, 240, 240, 240);
        var frames = Enumerable.Range(0, 30).Select(i => i % 2 == 0 ? dark : bright).ToList();
        // Alternating bytes: the test tells frames apart by content, so two in a row must differ (they do).
        var at = Enumerable.Range(0, 30).Select(i => TimeSpan.FromMilliseconds(100 * i)).ToList();
        var classified = await Feed(new PipelineSettings { Mode = TriggerMode.Motion, MaxRate = 1000, MotionCooldown = TimeSpan.FromSeconds(1) }, frames, at);
        // Frame 0 is never motion; frame 1 (100 ms) is; then the first motion 1 s later: 1100 ms, 2100 ms.
        Assert.That(Enumerable.Range(0, 30).Where(i => classified[i]), Is.EqualTo(new[] { 1, 11, 21 }));
    }

    [Test]
    public async Task TheLatencySummaryCountsEveryClassificationAndNeverGoesDown()
    {
        using var classifier = Classifier.Load(Path.Combine(RepoPaths.Models, "colors.onnx"), new ClassifierOptions { MaxBatch = 1 });
        var sky = Path.Combine(RepoPaths.Models, "samples", "sky.jpg");
        var supervisor = new SourceSupervisor(() => new FolderSource(sky, loop: true, fps: 0), TimeSpan.FromSeconds(5), NullLogger.Instance);
        await using var pipeline = new CameraPipeline(classifier, supervisor, null, NullLogger.Instance,
            new PipelineSettings { Mode = TriggerMode.Continuous, Lossless = true }, clock: new FakeTimeProvider());
        using var cts = new CancellationTokenSource();
        var run = pipeline.RunAsync(cts.Token);
        const int window = 1024; // LatencyWindow's capacity
        await Until(() => pipeline.Counters.FramesClassified > window + 100, "more classifications than the window holds");
        var first = Summary(StatusServer.Metrics(pipeline));
        await Until(() => pipeline.Counters.FramesClassified > (long)first.Count + 50, "more classifications");
        var second = Summary(StatusServer.Metrics(pipeline));
        cts.Cancel();
        await run;
        var last = Summary(StatusServer.Metrics(pipeline));
        Assert.That(first.Count, Is.GreaterThan(window), "_count is not the window's size");
        Assert.That(second.Count, Is.GreaterThan(first.Count));
        Assert.That(second.Sum, Is.GreaterThanOrEqualTo(first.Sum));
        Assert.That(last.Count, Is.EqualTo(pipeline.Counters.FramesClassified), "every frame classified since start");
        var windowSum = pipeline.Latency.Recent(window).Sum() / 1000;
        Assert.That(last.Sum, Is.GreaterThan(windowSum), "the sum covers more than the window");
    }

    [Test]
    public async Task DisposingARunningPipelineStopsItsRunFirst()
    {
        // An owner that leaves on an exception disposes without cancelling: the pipeline stops its own
        // run, so nothing it owns is disposed under a frame being classified, and the run ends cleanly.
        using var classifier = Classifier.Load(Path.Combine(RepoPaths.Models, "colors.onnx"), new ClassifierOptions { MaxBatch = 1 });
        var sky = Path.Combine(RepoPaths.Models, "samples", "sky.jpg");
        var supervisor = new SourceSupervisor(() => new FolderSource(sky, loop: true, fps: 0), TimeSpan.FromSeconds(5), NullLogger.Instance);
        var pipeline = new CameraPipeline(classifier, supervisor, null, NullLogger.Instance,
            new PipelineSettings { Mode = TriggerMode.Continuous, Lossless = true }, clock: new FakeTimeProvider());
        var run = pipeline.RunAsync(CancellationToken.None);
        await Until(() => pipeline.Counters.FramesClassified > 20, "classifications");
        Assert.That(() => pipeline.RunAsync(CancellationToken.None), Throws.InvalidOperationException, "a pipeline runs once");
        // Dispose is awaited without the run having been awaited or cancelled by anyone else.
        var disposing = pipeline.DisposeAsync().AsTask();
        Assert.That(await Task.WhenAny(disposing, Task.Delay(TimeSpan.FromSeconds(30))), Is.SameAs(disposing), "dispose stops the run instead of waiting for it forever");
        Assert.That(run.IsCompletedSuccessfully, Is.True, "the run ended, cleanly");
        Assert.That(() => pipeline.RunAsync(CancellationToken.None), Throws.TypeOf<ObjectDisposedException>());
        await pipeline.DisposeAsync(); // a second dispose (the owner's using) is harmless
    }

    private static (double Sum, long Count) Summary(string metrics)
    {
        double Value(string name) => double.Parse(metrics.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal)).Split(' ')[1], CultureInfo.InvariantCulture);
        return (Value("edged_inference_latency_seconds_sum{camera=\"camera\"}"), (long)Value("edged_inference_latency_seconds_count{camera=\"camera\"}"));
    }
}
