using System.Text.Json;

namespace Edge.Daemon.Tests;

/// <summary>
/// Clips around state changes from a real <c>edged run</c>: the shipped sample frames (a different colour each frame, so with
/// Consecutive 1 every classified frame is a state change) played losslessly at 10 fps. Each saved clip's index names frames
/// by capture sequence and time; the .mjpeg holds exactly those JPEGs, byte for byte the sample files they were read from.
/// </summary>
public class ClipTests
{
    [Test]
    public async Task AClipHoldsTheFramesCapturedFromPreSecondsBeforeToPostSecondsAfterAndRetentionKeepsMaxClips()
    {
        using var dir = new TempDir();
        var clips = dir.File("clips");
        await using var d = new DaemonProcess([
            "--Model:Updates:Enabled=false", $"--Store:Path={dir.File("r.db")}", "--Source:Fps=10", "--Decision:Consecutive=1", "--Source:Name=door",
            $"--Clips:Folder={clips}", "--Clips:PreSeconds=0.35", "--Clips:PostSeconds=0.35", "--Clips:MaxClips=2", "--Clips:BufferMb=4",
        ]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => JsonDocument.Parse(await d.Client.GetStringAsync("api/status")).RootElement.GetProperty("clips").GetProperty("saved").GetInt64() >= 3,
            "three clips saved");
        var served = await d.Client.GetAsync("api/clips/" + Directory.GetFiles(clips, "*.mjpeg").Order().Last().Split('/').Last());
        Assert.That(served.Content.Headers.ContentType!.MediaType, Is.EqualTo("video/x-motion-jpeg"));
        Assert.That((await d.Client.GetAsync("api/clips/..%2Fr.db")).StatusCode, Is.EqualTo(System.Net.HttpStatusCode.NotFound), "only clip names");
        await d.StopAsync();
        List<string?> linked;
        using (var store = new Storage.ResultStore(dir.File("r.db")))
            linked = [.. store.Events(0, 10_000).Select(e => e.Clip)];

        var samples = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "models", "samples")).Order(StringComparer.Ordinal)
            .Select(File.ReadAllBytes).ToList();
        var indexes = Directory.GetFiles(clips, "*.json");
        Assert.That(indexes, Has.Length.InRange(1, 2), "MaxClips 2 (a clip being recorded at stop is saved as well, after pruning to make room)");
        foreach (var indexFile in indexes)
        {
            var index = JsonDocument.Parse(File.ReadAllBytes(indexFile)).RootElement;
            var name = Path.GetFileNameWithoutExtension(indexFile);
            var eventTime = index.GetProperty("event_time").GetDateTimeOffset();
            Assert.That(linked, Does.Contain(name), $"{name} is linked from an event");
            var mjpeg = File.ReadAllBytes(Path.ChangeExtension(indexFile, ".mjpeg"));
            var frames = index.GetProperty("frames").EnumerateArray().ToList();
            Assert.That(frames, Is.Not.Empty);
            var sequences = frames.Select(f => f.GetProperty("sequence").GetInt64()).ToList();
            Assert.That(sequences, Is.EqualTo(Enumerable.Range((int)sequences[0], sequences.Count).Select(i => (long)i)), "every captured frame of the window, in order");
            foreach (var f in frames)
            {
                var t = f.GetProperty("time").GetDateTimeOffset();
                Assert.That(t, Is.GreaterThanOrEqualTo(eventTime.AddSeconds(-0.35)).And.LessThanOrEqualTo(eventTime.AddSeconds(0.35)), $"{name}: a frame at {t:O} outside the window");
                var bytes = mjpeg.AsSpan((int)f.GetProperty("offset").GetInt64(), f.GetProperty("length").GetInt32()).ToArray();
                // Frame n of the looped folder is sample (n - 1) mod count, in name order.
                var expected = samples[(int)((f.GetProperty("sequence").GetInt64() - 1) % samples.Count)];
                Assert.That(bytes, Is.EqualTo(expected), $"{name}: frame {f.GetProperty("sequence")}");
            }
            var last = frames[^1];
            Assert.That(last.GetProperty("offset").GetInt64() + last.GetProperty("length").GetInt32(), Is.EqualTo(mjpeg.Length), "nothing else in the file");
            Assert.That(frames.Any(f => f.GetProperty("time").GetDateTimeOffset() == eventTime), $"{name} holds the frame of its event");
        }
    }

    /// <summary>
    /// A camera that sends two frames and then nothing (it went away, or the scene is captured on demand): the clip of the
    /// state change is saved PostSeconds (and a grace) after it, with the frames it has, not left open until a frame comes.
    /// </summary>
    [Test]
    public async Task AClipIsSavedAfterPostSecondsEvenWhenNoFrameComesToEndIt()
    {
        using var dir = new TempDir();
        var clips = dir.File("clips");
        var samples = Path.Combine(AppContext.BaseDirectory, "models", "samples");
        await using var d = new DaemonProcess([
            "--Model:Updates:Enabled=false", $"--Store:Path={dir.File("r.db")}", "--Decision:Consecutive=1", "--Source:Kind=pipe",
            $"--Source:Command=sh -c 'cat {samples}/sky.jpg {samples}/tomatoes.jpg; exec sleep 600'", "--Source:NoFrameTimeoutMs=60000",
            $"--Clips:Folder={clips}", "--Clips:PreSeconds=1", "--Clips:PostSeconds=1",
        ]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => JsonDocument.Parse(await d.Client.GetStringAsync("api/status")).RootElement.GetProperty("clips").GetProperty("saved").GetInt64() >= 1,
            "the clip saved without a frame after it");
        var status = JsonDocument.Parse(await d.Client.GetStringAsync("api/status")).RootElement;
        Assert.That(status.GetProperty("frames_captured").GetInt64(), Is.EqualTo(2), "no frame came after the two");
        var index = JsonDocument.Parse(File.ReadAllBytes(Directory.GetFiles(clips, "*.json").Single())).RootElement;
        Assert.That(index.GetProperty("frames").EnumerateArray().Select(f => f.GetProperty("sequence").GetInt64()), Is.EqualTo(new long[] { 1, 2 }));
        var mjpeg = File.ReadAllBytes(Directory.GetFiles(clips, "*.mjpeg").Single());
        Assert.That(mjpeg, Is.EqualTo(File.ReadAllBytes(Path.Combine(samples, "sky.jpg")).Concat(File.ReadAllBytes(Path.Combine(samples, "tomatoes.jpg")))));
        await d.StopAsync();
    }

    /// <summary>Two cameras' recorders on one clip folder keep MaxClips between them (one count), the oldest going first.</summary>
    [Test]
    public async Task CamerasSharingAClipFolderShareMaxClips()
    {
        using var dir = new TempDir();
        var options = new Clips.ClipOptions { Folder = dir.File("clips"), PreSeconds = 0, PostSeconds = 0.1, BufferMb = 1, MaxClips = 2, MinFreeMb = 0 };
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var shared = Clips.ClipRecorder.FolderFor(options);
        var logs = new ListLogger();
        await using var door = new Clips.ClipRecorder(options, "door", logs, clock, shared);
        await using var yard = new Clips.ClipRecorder(options, "yard", logs, clock, shared);
        var jpeg = File.ReadAllBytes(Path.Combine(RepoPaths.Models, "samples", "sky.jpg"));
        long sequence = 0;
        for (var i = 0; i < 3; i++)
            foreach (var camera in new[] { door, yard })
            {
                var t = clock.GetUtcNow();
                using (var f = Capture.Frame.Copy(jpeg, ++sequence, t)) camera.Add(f);
                camera.Begin("latch", t);
                // The next frame, past PostSeconds, ends the clip.
                using (var f = Capture.Frame.Copy(jpeg, ++sequence, t.AddSeconds(0.5))) camera.Add(f);
                clock.Advance(TimeSpan.FromSeconds(1));
                var expected = sequence / 2;
                await Eventually.Until(() => door.Saved + yard.Saved == expected, $"clip {expected} written");
            }
        await door.DisposeAsync();
        await yard.DisposeAsync();
        Assert.That(door.Saved + yard.Saved, Is.EqualTo(6));
        var left = Directory.GetFiles(options.Folder, "*.mjpeg").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.That(left, Has.Count.EqualTo(2), "MaxClips over both cameras");
        Assert.That(left, Is.EqualTo(new[] { "20270115-080004.000_door_latch.mjpeg", "20270115-080005.000_yard_latch.mjpeg" }), "the newest two");
        Assert.That(Directory.GetFiles(options.Folder, "*.json"), Has.Length.EqualTo(2), "each with its index, no index left without its clip");
    }

    /// <summary>On the recorder's clock (faked): a clip with no frame after its event is saved once PostSeconds and the grace have passed, not before.</summary>
    [Test]
    public async Task ARecordingWithoutAFollowingFrameIsSavedByItsTimerOnTheRecordersClock()
    {
        using var dir = new TempDir();
        var options = new Clips.ClipOptions { Folder = dir.File("clips"), PreSeconds = 1, PostSeconds = 2, BufferMb = 1, MinFreeMb = 0 };
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        await using var recorder = new Clips.ClipRecorder(options, "door", new ListLogger(), clock);
        var jpeg = File.ReadAllBytes(Path.Combine(RepoPaths.Models, "samples", "sky.jpg"));
        var t = clock.GetUtcNow();
        using (var f = Capture.Frame.Copy(jpeg, 1, t)) recorder.Add(f);
        recorder.Begin("latch", t);
        clock.Advance(options.PostSeconds * TimeSpan.FromSeconds(1) + Clips.ClipRecorder.FinishGrace - TimeSpan.FromMilliseconds(1));
        await Task.Delay(200);
        Assert.That(recorder.Saved, Is.Zero, "not before PostSeconds and the grace");
        clock.Advance(TimeSpan.FromMilliseconds(2));
        await Eventually.Until(() => recorder.Saved == 1, "the clip saved by its timer");
        var index = JsonDocument.Parse(File.ReadAllBytes(Directory.GetFiles(options.Folder, "*.json").Single())).RootElement;
        Assert.That(index.GetProperty("frames").EnumerateArray().Select(x => x.GetProperty("sequence").GetInt64()), Is.EqualTo(new long[] { 1 }));
    }

    [Test]
    public async Task SnapshotsAreServedByTheirOwnNamesOnlyAndNeverThroughALink()
    {
        using var dir = new TempDir();
        var snapshots = dir.File("snapshots");
        File.WriteAllText(dir.File("secret.txt"), "not for the API");
        await using var d = new DaemonProcess([
            "--Model:Updates:Enabled=false", $"--Store:Path={dir.File("r.db")}", "--Source:Fps=10", $"--Actions:Snapshots:Folder={snapshots}",
        ]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => Directory.Exists(snapshots) && Directory.GetFiles(snapshots, "*.jpg").Length >= 2, "two snapshots");
        var name = Path.GetFileName(Directory.GetFiles(snapshots, "*.jpg").Order().First());
        var served = await d.Client.GetAsync("api/snapshots/" + name);
        Assert.That(served.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.OK));
        Assert.That(await served.Content.ReadAsByteArrayAsync(), Is.EqualTo(File.ReadAllBytes(Path.Combine(snapshots, name))));
        // A link named like a snapshot, pointing out of the folder; a name with a path; a name not of the writer's form.
        File.CreateSymbolicLink(Path.Combine(snapshots, "20260101-000000.000_red.jpg"), dir.File("secret.txt"));
        foreach (var bad in new[] { "20260101-000000.000_red.jpg", "..%2Fsecret.txt", "secret.txt", name + "%0A" })
            Assert.That((await d.Client.GetAsync("api/snapshots/" + bad)).StatusCode, Is.EqualTo(System.Net.HttpStatusCode.NotFound), bad);
        await d.StopAsync();
    }
}
