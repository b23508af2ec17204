using System.Diagnostics;
using Edge.Daemon.Capture;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Daemon.Tests;

/// <summary>A watched folder delivers each file once, whole, and never blocks on what is not a regular file.</summary>
public class FolderSourceTests
{
    private static readonly byte[] Sky = File.ReadAllBytes(Path.Combine(RepoPaths.Models, "samples", "sky.jpg"));

    private static FolderSourceOptions Watched => new() { Loop = false, Fps = 1000, Stable = TimeSpan.FromMilliseconds(300), PollInterval = TimeSpan.FromMilliseconds(100) };

    /// <summary>Advances the fake clock a poll at a time until the read completes (or fails after <paramref name="polls"/>).</summary>
    private static async Task<Frame?> ReadWithin(ValueTask<Frame?> read, FakeTimeProvider clock, int polls)
    {
        var task = read.AsTask();
        for (var i = 0; i < polls && !task.IsCompleted; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(100));
            for (var spin = 0; spin < 50 && !task.IsCompleted; spin++) await Task.Delay(2);
        }
        return task.IsCompleted ? await task : null;
    }

    [Test]
    public async Task SubfoldersAreSearchedAsClassifySearchesThemButNotHiddenOnes()
    {
        using var dir = new TempDir();
        var snow = File.ReadAllBytes(Path.Combine(RepoPaths.Models, "samples", "snow.jpg"));
        var tomatoes = File.ReadAllBytes(Path.Combine(RepoPaths.Models, "samples", "tomatoes.jpg"));
        File.WriteAllBytes(dir.File("a.jpg"), Sky);
        Directory.CreateDirectory(dir.File("2026/12/03"));
        File.WriteAllBytes(dir.File("2026/12/03/b.jpg"), tomatoes);
        Directory.CreateDirectory(dir.File(".partial"));
        File.WriteAllBytes(dir.File(".partial/c.jpg"), snow); // an upload still being put in place
        using var cts = new CancellationTokenSource();
        await using var looped = new FolderSource(dir.Path, new FolderSourceOptions { Loop = true, Fps = 0 }, null, null);
        await looped.OpenAsync(cts.Token);
        var seen = new List<byte[]>();
        for (var i = 0; i < 4; i++)
        {
            using var frame = await looped.ReadAsync(cts.Token);
            seen.Add(frame!.ToArray());
        }
        // Full paths in ordinal order, as classify lists them: "…/2026/12/03/b.jpg" before "…/a.jpg"; then again.
        Assert.That(seen, Is.EqualTo(new[] { tomatoes, Sky, tomatoes, Sky }));

        // Watched: a file in a new dated folder is delivered too.
        var clock = new FakeTimeProvider();
        await using var watched = new FolderSource(dir.Path, Watched, null, null, clock);
        await watched.OpenAsync(cts.Token);
        var pending = watched.ReadAsync(cts.Token);
        Directory.CreateDirectory(dir.File("2026/12/04"));
        File.WriteAllBytes(dir.File("2026/12/04/d.jpg"), snow);
        using var d = await ReadWithin(pending, clock, 20);
        Assert.That(d?.ToArray(), Is.EqualTo(snow));
        cts.Cancel();
    }

    [Test]
    public async Task ReopeningAWatchedFolderDoesNotDeliverItsFilesAgain()
    {
        using var dir = new TempDir();
        var clock = new FakeTimeProvider();
        var cursor = new FolderCursor();
        using var cts = new CancellationTokenSource();
        await using (var first = new FolderSource(dir.Path, Watched, cursor, null, clock))
        {
            await first.OpenAsync(cts.Token);
            var pending = first.ReadAsync(cts.Token);
            File.WriteAllBytes(dir.File("a.jpg"), Sky);
            using var frame = await ReadWithin(pending, clock, 20);
            Assert.That(frame, Is.Not.Null, "a new file is delivered once it is stable");
        }
        // The supervisor reopens a source after a failure: same cursor, no repeat.
        await using var second = new FolderSource(dir.Path, Watched, cursor, null, clock);
        await second.OpenAsync(cts.Token);
        var again = second.ReadAsync(cts.Token).AsTask();
        Assert.That(await ReadWithin(new ValueTask<Frame?>(again), clock, 20), Is.Null, "nothing new, nothing delivered");
        File.WriteAllBytes(dir.File("b.jpg"), Sky);
        using var b = await ReadWithin(new ValueTask<Frame?>(again), clock, 20);
        Assert.That(b, Is.Not.Null);
        cts.Cancel();
    }

    [Test]
    public async Task AFileStillBeingWrittenIsReadOnlyWhenItHasStoppedChangingAndAgainIfItChanges()
    {
        using var dir = new TempDir();
        var clock = new FakeTimeProvider();
        using var cts = new CancellationTokenSource();
        await using var source = new FolderSource(dir.Path, Watched, null, null, clock);
        await source.OpenAsync(cts.Token);
        var read = source.ReadAsync(cts.Token).AsTask();
        await using (var partial = new FileStream(dir.File("frame.jpg"), FileMode.Create))
        {
            partial.Write(Sky.AsSpan(0, Sky.Length / 2));
            partial.Flush();
            // Half written and still changing: every poll sees a new size, so nothing is read.
            for (var i = 0; i < 5; i++)
            {
                Assert.That(await ReadWithin(new ValueTask<Frame?>(read), clock, 1), Is.Null, "not before it is whole");
                partial.Write(Sky.AsSpan(Sky.Length / 2 + i * 10, 10));
                partial.Flush();
            }
            partial.Write(Sky.AsSpan(Sky.Length / 2 + 50));
        }
        using var frame = await ReadWithin(new ValueTask<Frame?>(read), clock, 20);
        Assert.That(frame, Is.Not.Null);
        Assert.That(frame!.Data.ToArray(), Is.EqualTo(Sky), "read whole");

        // A camera that overwrites the same file: the new content is a new frame.
        var night = File.ReadAllBytes(Path.Combine(RepoPaths.Models, "samples", "night.jpg"));
        File.WriteAllBytes(dir.File("frame.jpg"), night);
        File.SetLastWriteTimeUtc(dir.File("frame.jpg"), DateTime.UtcNow.AddSeconds(5));
        using var changed = await ReadWithin(source.ReadAsync(cts.Token), clock, 20);
        Assert.That(changed!.Data.ToArray(), Is.EqualTo(night));
    }

    [Test]
    public async Task FilesAlreadyThereAreSkippedUnlessAskedFor()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("old.jpg"), Sky);
        var clock = new FakeTimeProvider();
        using var cts = new CancellationTokenSource();
        await using (var skip = new FolderSource(dir.Path, Watched, null, null, clock))
        {
            await skip.OpenAsync(cts.Token);
            Assert.That(await ReadWithin(skip.ReadAsync(cts.Token), clock, 20), Is.Null);
        }
        await using var process = new FolderSource(dir.Path, Watched with { ProcessExisting = true }, null, null, clock);
        await process.OpenAsync(cts.Token);
        using var frame = await ReadWithin(process.ReadAsync(cts.Token), clock, 20);
        Assert.That(frame, Is.Not.Null);
        cts.Cancel();
    }

    [Test]
    public async Task AFifoOrADeviceLinkInTheFolderIsSkippedNotOpened()
    {
        using var dir = new TempDir();
        Assert.That(Process.Start("mkfifo", [dir.File("a-fifo.jpg")])!.WaitForExit(5000), Is.True);
        File.CreateSymbolicLink(dir.File("b-zero.jpg"), "/dev/zero");
        File.WriteAllBytes(dir.File("c-good.jpg"), Sky);
        var logs = new ListLogger();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        // Looped: it reads every listed file each pass, the case where open(2) on a FIFO used to block for good.
        await using var looped = new FolderSource(dir.Path, new FolderSourceOptions { Loop = true, Fps = 1000 }, null, logs);
        await looped.OpenAsync(cts.Token);
        for (var i = 0; i < 3; i++)
        {
            using var frame = await looped.ReadAsync(cts.Token);
            Assert.That(frame!.Data.ToArray(), Is.EqualTo(Sky));
        }
        Assert.That(looped.Skipped, Is.GreaterThanOrEqualTo(4));
        Assert.That(logs.Lines.Count(l => l.Contains("a FIFO (named pipe), not a regular file")), Is.EqualTo(1), string.Join("\n", logs.Lines));
        Assert.That(logs.Lines.Count(l => l.Contains("a character device, not a regular file")), Is.EqualTo(1));
    }
}
