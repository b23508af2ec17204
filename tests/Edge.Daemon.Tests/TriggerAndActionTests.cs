using System.Device.Gpio;
using Edge.Core.Imaging;
using Edge.Daemon.Actions;
using Edge.Daemon.Storage;
using Edge.Daemon.Triggers;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Daemon.Tests;

public class TriggerAndActionTests
{
    [Test]
    public void AFallingEdgeTriggersAndBounceIsIgnored()
    {
        var driver = new FakeGpioDriver();
        using var gpio = new GpioController(driver);
        var clock = new FakeTimeProvider();
        var fired = 0;
        using var trigger = new GpioEdgeTrigger(gpio, 17, PinMode.InputPullUp, PinEventTypes.Falling, TimeSpan.FromMilliseconds(200), () => { fired++; return true; }, NullLogger.Instance, clock);
        Assert.That(driver.Value(17), Is.EqualTo(PinValue.High), "pull-up idles high");
        // A contact that closes with bounce: low, high, low within a few ms.
        driver.Set(17, PinValue.Low);
        driver.Set(17, PinValue.High);
        driver.Set(17, PinValue.Low);
        Assert.That(fired, Is.EqualTo(1));
        Assert.That(trigger.Ignored, Is.EqualTo(1));
        driver.Set(17, PinValue.High); // rising: not watched
        clock.Advance(TimeSpan.FromMilliseconds(199));
        driver.Set(17, PinValue.Low);
        Assert.That(fired, Is.EqualTo(1), "199 ms after the accepted edge: still bounce");
        Assert.That(trigger.Ignored, Is.EqualTo(2));
        driver.Set(17, PinValue.High);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        driver.Set(17, PinValue.Low);
        Assert.That(fired, Is.EqualTo(2), "200 ms after the accepted edge: a new press");
        Assert.That(trigger.Accepted, Is.EqualTo(2));
    }

    [Test]
    public void ARuleDrivesItsPinHighForTheConfiguredTime()
    {
        var driver = new FakeGpioDriver();
        using var gpio = new GpioController(driver);
        var clock = new FakeTimeProvider();
        using var rule = new GpioOutputRule(gpio, "defect", 0.8f, 23, TimeSpan.FromMilliseconds(300), NullLogger.Instance, clock);
        Assert.That(rule.Apply([new StoredPrediction("ok", 0, 0.9f)]), Is.False);
        Assert.That(rule.Apply([new StoredPrediction("defect", 1, 0.5f)]), Is.False, "below the score");
        Assert.That(driver.Value(23), Is.EqualTo(PinValue.Low));
        Assert.That(rule.Apply([new StoredPrediction("defect", 1, 0.95f)]), Is.True);
        Assert.That(driver.Value(23), Is.EqualTo(PinValue.High));
        clock.Advance(TimeSpan.FromMilliseconds(299));
        Assert.That(driver.Value(23), Is.EqualTo(PinValue.High), "299 ms of 300");
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.That(driver.Value(23), Is.EqualTo(PinValue.Low), "released at 300 ms");

        // A match while high extends the pulse to 300 ms after the latest match, without a second rising edge.
        Assert.That(rule.Apply([new StoredPrediction("defect", 1, 0.95f)]), Is.True);
        clock.Advance(TimeSpan.FromMilliseconds(200));
        Assert.That(rule.Apply([new StoredPrediction("defect", 1, 0.9f)]), Is.True);
        clock.Advance(TimeSpan.FromMilliseconds(299));
        Assert.That(driver.Value(23), Is.EqualTo(PinValue.High), "499 ms after the first match, 299 after the second");
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.That(driver.Value(23), Is.EqualTo(PinValue.Low));
        List<(int Pin, PinValue Value, long Ticks)> writes;
        lock (driver.Writes) writes = [.. driver.Writes.Where(w => w.Pin == 23)];
        Assert.That(writes.Select(w => w.Value), Is.EqualTo(new[] { PinValue.Low, PinValue.High, PinValue.Low, PinValue.High, PinValue.Low }),
            "opened low, then two pulses; the extension wrote nothing");
        Assert.That(rule.Fired, Is.EqualTo(3));
    }

    [Test]
    public async Task GpioEdgesAndRuleMatchesAreCountedInTheMetrics()
    {
        var driver = new FakeGpioDriver();
        using var gpio = new GpioController(driver);
        var clock = new FakeTimeProvider();
        using var trigger = new GpioEdgeTrigger(gpio, 17, PinMode.InputPullUp, PinEventTypes.Falling, TimeSpan.FromMilliseconds(200), () => false, NullLogger.Instance, clock);
        // A label with a quote and a backslash: the text format must escape both.
        using var rule = new GpioOutputRule(gpio, "bin \"full\" \\ 2", 0.5f, 23, TimeSpan.FromMilliseconds(300), NullLogger.Instance, clock);
        driver.Set(17, PinValue.Low);  // past the debounce, but the pipeline's queue is full: refused
        driver.Set(17, PinValue.High);
        driver.Set(17, PinValue.Low); // bounce
        rule.Apply([new StoredPrediction("bin \"full\" \\ 2", 0, 0.9f)]);
        using var classifier = Edge.Core.Inference.Classifier.Load(Path.Combine(RepoPaths.Models, "colors.onnx"));
        var supervisor = new Capture.SourceSupervisor(() => new Capture.FolderSource(Path.Combine(RepoPaths.Models, "samples"), loop: true, fps: 0),
            TimeSpan.FromSeconds(5), NullLogger.Instance);
        await using var pipeline = new Pipeline.CameraPipeline(classifier, supervisor, null, NullLogger.Instance, new Pipeline.PipelineSettings { Rules = [rule] });
        var lines = Http.StatusServer.Metrics(pipeline, null, trigger).Split('\n');
        Assert.That(lines, Does.Contain("edged_gpio_trigger_edges_total{pin=\"17\",result=\"accepted\"} 0"));
        Assert.That(lines, Does.Contain("edged_gpio_trigger_edges_total{pin=\"17\",result=\"refused\"} 1"), "an edge the pipeline did not take is not counted as a classification");
        Assert.That(lines, Does.Contain("edged_gpio_trigger_edges_total{pin=\"17\",result=\"ignored\"} 1"));
        Assert.That(lines, Does.Contain("edged_gpio_output_pulses_total{pin=\"23\",label=\"bin \\\"full\\\" \\\\ 2\"} 1"));
        Assert.That(lines, Does.Contain("# TYPE edged_gpio_output_pulses_total counter"));
    }

    [Test]
    public unsafe void MotionIsAChangeInTheRegionOfInterestAboveTheThreshold()
    {
        using var detector = new MotionDetector(new MotionSettings { RoiX = 0.5, RoiWidth = 0.5, RegionThreshold = 0.05 });
        var still = TestImages.Solid(128, 96, 100, 100, 100);
        bool Feed(byte[] rgba)
        {
            fixed (byte* p = rgba) return detector.Update(ImageView.FromPinned(p, 128, 96));
        }
        Assert.That(Feed(still), Is.False, "the first frame is never motion");
        Assert.That(Feed(still), Is.False);
        // A bright square in the left half (outside the region) is ignored...
        var left = (byte[])still.Clone();
        Paint(left, 128, 10, 10, 40, 40);
        Assert.That(Feed(left), Is.False);
        Assert.That(detector.LastChangedFraction, Is.Zero);
        // ...the same square in the right half is motion: 40x40 of 64x96 pixels is 26% of the region.
        var right = (byte[])still.Clone();
        Paint(right, 128, 80, 10, 40, 40);
        Assert.That(Feed(right), Is.True);
        Assert.That(detector.LastChangedFraction, Is.EqualTo(0.26).Within(0.03));
        // Sensor noise of a few levels is not motion.
        var noisy = (byte[])right.Clone();
        var rng = new Random(1);
        for (var i = 0; i < noisy.Length; i += 4) noisy[i] = (byte)Math.Clamp(noisy[i] + rng.Next(-4, 5), 0, 255);
        Assert.That(Feed(noisy), Is.False);
    }

    [Test]
    public void MotionOnEncodedFramesDecodesSmall()
    {
        using var detector = new MotionDetector(new MotionSettings());
        var a = TestImages.Jpeg(TestImages.Solid(640, 480, 90, 90, 90), 640, 480);
        var b = TestImages.Jpeg(TestImages.Pattern(640, 480), 640, 480);
        Assert.That(detector.Update(a), Is.False);
        Assert.That(detector.Update(a), Is.False);
        Assert.That(detector.Update(b), Is.True);
        Assert.That(() => detector.Update("nope"u8), Throws.TypeOf<ImageDecodeException>());
    }

    private static void Paint(byte[] rgba, int width, int x0, int y0, int w, int h)
    {
        for (var y = y0; y < y0 + h; y++)
            for (var x = x0; x < x0 + w; x++)
            {
                var i = (y * width + x) * 4;
                rgba[i] = rgba[i + 1] = rgba[i + 2] = 250;
            }
    }

    [Test]
    public void SnapshotsKeepTheNewestWithinTheCount()
    {
        using var dir = new TempDir();
        var writer = new SnapshotWriter(dir.File("snaps"), maxFiles: 3, minFreeBytes: 0, NullLogger.Instance, label: "cat", minScore: 0.5f);
        var jpeg = TestImages.Jpeg(TestImages.Solid(8, 8, 1, 2, 3), 8, 8);
        var t = new DateTimeOffset(2026, 11, 24, 8, 0, 0, TimeSpan.Zero);
        Assert.That(writer.Save(jpeg, t, "dog", 0.9f), Is.Null);
        for (var i = 0; i < 5; i++) Assert.That(writer.Save(jpeg, t.AddSeconds(i), "cat", 0.9f), Is.Not.Null);
        var names = Directory.GetFiles(dir.File("snaps")).Select(f => Path.GetFileName(f)).Order().ToList();
        Assert.That(names, Is.EqualTo(new[] { "20261124-080002.000_cat.jpg", "20261124-080003.000_cat.jpg", "20261124-080004.000_cat.jpg" }));
        Assert.That(File.ReadAllBytes(Path.Combine(dir.File("snaps"), names[0])), Is.EqualTo(jpeg), "the camera's bytes, not a re-encode");
    }

    [Test]
    public void SnapshotsMakeRoomForTheFreeSpaceFloor()
    {
        using var dir = new TempDir();
        var free = new DriveInfo(dir.Path).AvailableFreeSpace;
        var jpeg = TestImages.Jpeg(TestImages.Solid(8, 8, 1, 2, 3), 8, 8);
        var t = DateTimeOffset.UnixEpoch;
        new SnapshotWriter(dir.File("s"), 100, 0, NullLogger.Instance).Save(jpeg, t, "a", 1);
        // A floor above what is free: older snapshots go to make room (and this one is still written).
        var writer = new SnapshotWriter(dir.File("s"), 100, free * 2, NullLogger.Instance);
        writer.Save(jpeg, t.AddSeconds(1), "b", 1);
        Assert.That(Directory.GetFiles(dir.File("s")).Select(Path.GetFileName), Is.EqualTo(new[] { "19700101-000001.000_b.jpg" }));
    }
}
