using System.Text;
using Edge.Daemon.Capture;
using Edge.Daemon.Lifecycle;
using Edge.Daemon.Pipeline;
using Edge.Daemon.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Daemon.Tests;

/// <summary>Nothing fails silently: results kept or counted as lost, problems said once, stuck or failing classification seen.</summary>
public class FailureAccountingTests
{
    private static ResultRecord Record(int i) =>
        new(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000 + i), "test", "continuous", [new StoredPrediction("x", 0, 1f)], 1, null);

    private static async Task Until(Func<bool> condition, string what)
    {
        for (var i = 0; i < 2000 && !condition(); i++) await Task.Delay(5);
        Assert.That(condition(), Is.True, what);
    }

    [Test]
    public async Task AStoreThatCannotOpenIsRetriedItsQueueIsBoundedAndLossesAreCountedAndSaidOnce()
    {
        using var dir = new TempDir();
        var clock = new FakeTimeProvider();
        var openable = false;
        var attempts = 0;
        var logs = new ListLogger();
        var writer = new ResultWriter(dir.File("r.db"), () =>
        {
            attempts++;
            return openable ? new ResultStore(dir.File("r.db")) : throw new StoreUnavailableException("cannot open the results database: the file is not a SQLite database", null);
        }, maxPending: 10, logs, clock);
        using var cts = new CancellationTokenSource();
        var run = writer.RunAsync(cts.Token);
        for (var i = 0; i < 25; i++) writer.Add(Record(i));
        await Until(() => writer.Error is not null, "the failure to be seen");
        await Until(() => writer.Pending + writer.Lost == 25, "every result either waiting or counted as lost");
        Assert.That(writer.Pending, Is.InRange(5, 10), "at most MaxPending waiting, the batch in hand included");
        Assert.That(writer.Lost, Is.EqualTo(25 - writer.Pending));
        Assert.That(writer.Error, Does.Contain("not a SQLite database"));
        Assert.Throws<StoreUnavailableException>(() => writer.Query(0, null, 10));
        // Retries follow the (fake) clock with backoff; the failure is said once, however often it recurs.
        var before = attempts;
        for (var i = 0; i < 5; i++) { clock.Advance(TimeSpan.FromSeconds(31)); await Task.Delay(20); }
        Assert.That(attempts, Is.GreaterThan(before));
        Assert.That(logs.Lines.Count(l => l.Contains("not a SQLite database")), Is.EqualTo(1), string.Join("\n", logs.Lines));
        Assert.That(logs.Lines.Count(l => l.Contains("the oldest are dropped")), Is.EqualTo(1));

        // The file is fixed: the next retry opens it and writes everything that waited.
        var lost = writer.Lost;
        openable = true;
        clock.Advance(TimeSpan.FromSeconds(31));
        await Until(() => writer.Pending == 0 && writer.Error is null, "the queue to drain");
        Assert.That(writer.Written, Is.EqualTo(25 - lost));
        Assert.That(writer.Query(0, null, 100), Has.Count.EqualTo(25 - lost));
        Assert.That(logs.Lines, Has.Some.Contains("writing resumed"));
        cts.Cancel();
        await run;
    }

    [Test]
    public async Task ABrokenStoreShowsBeforeAnyResultArrives()
    {
        using var dir = new TempDir();
        var clock = new FakeTimeProvider();
        var attempts = 0;
        var writer = new ResultWriter(dir.File("r.db"), () => { attempts++; throw new StoreUnavailableException("cannot open the results database: read-only folder", null); },
            100, new ListLogger(), clock);
        using var cts = new CancellationTokenSource();
        var run = writer.RunAsync(cts.Token);
        await Until(() => writer.Error is not null, "the error without any result (an HTTP-triggered daemon may wait hours for one)");
        for (var i = 0; i < 3; i++) { clock.Advance(TimeSpan.FromSeconds(31)); await Task.Delay(20); }
        Assert.That(attempts, Is.GreaterThanOrEqualTo(3), "and it keeps trying");
        cts.Cancel();
        await run;
        Assert.That(writer.Lost, Is.Zero);
    }

    [Test]
    public async Task AtStopWhatCannotBeWrittenIsCountedAndSaid()
    {
        using var dir = new TempDir();
        var logs = new ListLogger();
        var writer = new ResultWriter(dir.File("r.db"), () => throw new StoreUnavailableException("the disk is full", null), 100, logs, new FakeTimeProvider());
        using var cts = new CancellationTokenSource();
        var run = writer.RunAsync(cts.Token);
        for (var i = 0; i < 7; i++) writer.Add(Record(i));
        await Until(() => writer.Error is not null, "the failure");
        cts.Cancel();
        await run;
        Assert.That(writer.Lost, Is.EqualTo(7));
        Assert.That(writer.Pending, Is.Zero);
        Assert.That(logs.Lines, Has.Some.Contains("7 results could not be written before stopping and are lost"));
    }

    [Test]
    public void EachProblemIsSaidOnceEvenWhenKindsAlternate()
    {
        var said = new SaidOnce(capacity: 3);
        var spoken = new[] { "A", "B", "A", "B", "A", "C", "D", "A" }.Where(said.First).ToList();
        Assert.That(spoken, Is.EqualTo(new[] { "A", "B", "C" }), "D is over the bound: only counted");
        said.Reset();
        Assert.That(said.First("A"), Is.True, "after recovery a problem is news again");
    }

    [Test]
    public void AStuckOrPersistentlyFailingClassificationIsNotAlive()
    {
        var clock = new FakeTimeProvider();
        var health = new InferenceHealth(clock, failuresBeforeUnhealthy: 3, stuckAfter: TimeSpan.FromSeconds(60));
        Assert.That(health.Alive, Is.True);
        health.Begin();
        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.That(health.Alive, Is.True, "a slow classification is not stuck yet");
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.That(health.Problem(), Is.EqualTo("inference: a classification has been running for 61 s"));
        health.Succeeded();
        Assert.That(health.Alive, Is.True);
        health.Failed("x");
        health.Failed("y");
        Assert.That(health.Alive, Is.True, "two failures in a row may be bad frames");
        health.Failed("ONNX Runtime failed: shape mismatch");
        Assert.That(health.Problem(), Is.EqualTo("inference: the last 3 classifications failed: ONNX Runtime failed: shape mismatch"));
        health.Succeeded();
        Assert.That(health.Alive, Is.True, "one success heals");
        Assert.That(health.Failures, Is.EqualTo(3));
        health.Faulted("NullReferenceException: boom");
        Assert.That(health.Problem(), Does.StartWith("pipeline: stopped"));
    }

    private sealed class ThrowingThenWorkingSource(int failures, Exception error) : IFrameSource
    {
        private static int _opened;
        public static void Reset() => _opened = 0;
        public string Description => "test source";
        public ValueTask OpenAsync(CancellationToken ct) => ++_opened <= failures ? throw error : ValueTask.CompletedTask;
        public ValueTask<Frame?> ReadAsync(CancellationToken ct) => ValueTask.FromResult<Frame?>(Frame.Copy([1, 2, 3], 1, DateTimeOffset.UtcNow));
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Test]
    public async Task AnUnexpectedSourceErrorIsReportedAndRecoveredFromNotSilentlyFatal()
    {
        ThrowingThenWorkingSource.Reset();
        var logs = new ListLogger();
        var supervisor = new SourceSupervisor(() => new ThrowingThenWorkingSource(3, new NotSupportedException("driver bug")), TimeSpan.FromSeconds(5), logs)
        {
            InitialBackoff = TimeSpan.FromMilliseconds(1), MaxBackoff = TimeSpan.FromMilliseconds(2),
        };
        using var cts = new CancellationTokenSource();
        var frames = 0;
        var run = supervisor.RunAsync(f => { f.Dispose(); if (++frames == 5) cts.Cancel(); return ValueTask.CompletedTask; }, cts.Token);
        await run.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(frames, Is.EqualTo(5));
        Assert.That(supervisor.Status.Reconnects, Is.EqualTo(3));
        Assert.That(logs.Lines.Count(l => l.Contains("NotSupportedException: driver bug")), Is.EqualTo(1), "said once");
        Assert.That(logs.Lines, Has.Some.Contains("delivering frames again"));
    }

    [Test]
    public void AStderrFloodWithoutNewlinesKeepsABoundedTail()
    {
        var tail = new StderrTail(lines: 3, lineLength: 50);
        var chunk = Encoding.ASCII.GetBytes(new string('x', 4096));
        for (var i = 0; i < 10_000; i++) tail.Append(chunk); // 40 MB without a newline
        Assert.That(tail.Text(), Has.Length.EqualTo(53));
        tail.Append("\nsecond\nthird\nfourth\n"u8);
        Assert.That(tail.Text(), Is.EqualTo("second | third | fourth"), "the last lines, the flood gone");
        var colours = new StderrTail();
        colours.Append("\u001b[31mcamera not found\u001b[0m\n"u8);
        Assert.That(colours.Text(), Is.EqualTo("[31mcamera not found[0m"), "control characters (ESC) never reach logs");
    }

    private sealed class NeverAnsweringSource : IFrameSource
    {
        public static int Opened;
        public string Description => "http: a camera that accepts and never answers";
        public async ValueTask OpenAsync(CancellationToken ct) { Interlocked.Increment(ref Opened); await Task.Delay(Timeout.Infinite, ct); }
        public ValueTask<Frame?> ReadAsync(CancellationToken ct) => throw new InvalidOperationException();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Test]
    public async Task OpeningALiveSourceIsBoundedInTimeSoAHungCameraIsRetried()
    {
        NeverAnsweringSource.Opened = 0;
        var logs = new ListLogger();
        var clock = new RecordingClock();
        var supervisor = new SourceSupervisor(() => new NeverAnsweringSource(), TimeSpan.FromMilliseconds(100), logs, clock: clock)
        {
            InitialBackoff = TimeSpan.FromMilliseconds(1), MaxBackoff = TimeSpan.FromMilliseconds(1),
        };
        using var cts = new CancellationTokenSource();
        var run = supervisor.RunAsync(f => { f.Dispose(); return ValueTask.CompletedTask; }, cts.Token);
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            await Until(() => Volatile.Read(ref NeverAnsweringSource.Opened) == attempt, $"attempt {attempt}");
            clock.Fake.Advance(TimeSpan.FromMilliseconds(199));
            Assert.That(supervisor.Status.Reconnects, Is.EqualTo(attempt - 1), "still opening at 199 ms");
            clock.Fake.Advance(TimeSpan.FromMilliseconds(1)); // twice the no-frame timeout: given up
            await Until(() => supervisor.Status.Reconnects == attempt, $"attempt {attempt} given up");
            if (attempt < 3)
            {
                await Until(() => clock.Delays.Count == attempt, "the backoff to be armed");
                clock.Fake.Advance(TimeSpan.FromMilliseconds(1));
            }
        }
        Assert.That(supervisor.Status.State, Is.EqualTo(SourceState.Reconnecting));
        Assert.That(supervisor.Status.LastError, Is.EqualTo("no answer within 0.2 s while opening"));
        Assert.That(logs.Lines.Count(l => l.Contains("no answer within")), Is.EqualTo(1));
        cts.Cancel();
        await run;
    }

    private sealed class FlappingSource : IFrameSource
    {
        private bool _gave;
        public string Description => "pipe: a camera that gives one frame and exits";
        public ValueTask OpenAsync(CancellationToken ct) => ValueTask.CompletedTask;
        public ValueTask<Frame?> ReadAsync(CancellationToken ct)
        {
            if (_gave) throw new IOException("'camera' exited with code 1");
            _gave = true;
            return ValueTask.FromResult<Frame?>(Frame.Copy([1, 2, 3], 1, DateTimeOffset.UtcNow));
        }
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Test]
    public async Task ACameraThatFlapsIsNotALogLinePerCycle()
    {
        var logs = new ListLogger();
        var supervisor = new SourceSupervisor(() => new FlappingSource(), TimeSpan.FromSeconds(5), logs)
        {
            InitialBackoff = TimeSpan.FromMilliseconds(1), MaxBackoff = TimeSpan.FromMilliseconds(1),
        };
        using var cts = new CancellationTokenSource();
        var frames = 0;
        var run = supervisor.RunAsync(f => { f.Dispose(); if (++frames == 50) cts.Cancel(); return ValueTask.CompletedTask; }, cts.Token);
        await run.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(frames, Is.EqualTo(50));
        Assert.That(logs.Lines, Has.Count.LessThanOrEqualTo(3), string.Join("\n", logs.Lines));
        Assert.That(logs.Lines.Count(l => l.Contains("exited with code 1")), Is.EqualTo(1));
    }

    /// <summary>
    /// A burst of state changes larger than the writer's batch, with nothing queued after it, is written all the same (no
    /// wake-up is lost), events never push a queued result out, and results and events are committed in the order queued.
    /// </summary>
    [Test]
    public async Task ABurstOfEventsIsWrittenWholeInTheOrderQueued()
    {
        using var dir = new TempDir();
        var writer = new ResultWriter(dir.File("r.db"), () => new ResultStore(dir.File("r.db")), 10, new ListLogger());
        var t0 = DateTimeOffset.UtcNow;
        StateEventRecord Change(int i) => new(t0.AddMilliseconds(i), "camera", "door", null, "open", 0.9f, [], i, null, null);
        ResultRecord Result(int i) => new(t0.AddMilliseconds(i), "s", "continuous", [new StoredPrediction("open", 0, 0.9f)], 1, null, Region: "door");
        for (var i = 1; i <= 40; i++) writer.Add(Change(i));
        using var cts = new CancellationTokenSource();
        var run = Task.Run(() => writer.RunAsync(cts.Token));
        // Eight batches' worth, queued before the writer ran, with one wake-up among them: every one is written.
        await Eventually.Until(() => writer.LastEventId == 40, "the 40 events written");
        writer.Add(Result(41));
        writer.Add(Change(42));
        await Eventually.Until(() => writer.LastEventId == 41 && writer.LastResultId == 1, "the result and the event after it written");
        Assert.That(writer.Lost, Is.Zero, "nothing dropped: 41 events and one result within MaxPending's results");
        cts.Cancel();
        await run;
        using var store = new ResultStore(dir.File("r.db"));
        Assert.That(store.Events(0, 100).Select(e => e.Frame), Is.EqualTo(Enumerable.Range(1, 40).Append(42).Select(i => (long)i)), "in the order queued");
    }

    [Test]
    public void SnapshotsPruneOnlyTheirOwnFilesAndSayAFailureOnce()
    {
        using var dir = new TempDir();
        for (var i = 1; i <= 5; i++) File.WriteAllText(dir.File($"user-photo-{i}.jpg"), "mine");
        // Two snapshots of an earlier run: counted, and the first to go.
        File.WriteAllText(dir.File("20261201-080000.000_blue.jpg"), "old");
        File.WriteAllText(dir.File("20261201-080001.000_blue.jpg"), "old");
        var logs = new ListLogger();
        var writer = new Actions.SnapshotWriter(dir.Path, maxFiles: 2, minFreeBytes: 0, logs);
        var jpeg = File.ReadAllBytes(Path.Combine(RepoPaths.Models, "samples", "sky.jpg"));
        var t = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        for (var i = 0; i < 4; i++) Assert.That(writer.Save(jpeg, t.AddSeconds(i), "blue", 0.9f), Is.Not.Null);
        var names = Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.That(names.Count(n => n!.StartsWith("user-photo", StringComparison.Ordinal)), Is.EqualTo(5), "never someone else's file");
        Assert.That(names.Where(n => n!.EndsWith("_blue.jpg", StringComparison.Ordinal)),
            Is.EqualTo(new[] { "20270115-080002.000_blue.jpg", "20270115-080003.000_blue.jpg" }), "own snapshots kept within MaxFiles, the newest");
        // One deleted by hand: the next save still keeps MaxFiles (the one gone is dropped from the count first).
        File.Delete(dir.File("20270115-080002.000_blue.jpg"));
        Assert.That(writer.Save(jpeg, t.AddSeconds(5), "blue", 0.9f), Is.Not.Null);
        Assert.That(Directory.GetFiles(dir.Path, "*_blue.jpg").Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { "20270115-080003.000_blue.jpg", "20270115-080005.000_blue.jpg" }));
        var longLabel = string.Concat(Enumerable.Repeat("标签", 100));
        var saved = writer.Save(jpeg, t.AddSeconds(10), longLabel, 0.9f);
        Assert.That(Path.GetFileName(saved), Has.Length.LessThan(100), "a long label still makes a valid file name");

        var broken = new Actions.SnapshotWriter("/proc/self/edge-cannot-write-here", 10, 0, logs);
        for (var i = 0; i < 20; i++) Assert.That(broken.Save(jpeg, t.AddSeconds(i), "blue", 0.9f), Is.Null);
        Assert.That(logs.Lines.Count(l => l.Contains("Snapshot to /proc/self")), Is.EqualTo(1), string.Join("\n", logs.Lines));
    }

    [Category(Needs.Python)]
    [Test]
    public void PagingThroughResultsSeesEveryRowAndSkipsDamagedOnes()
    {
        using var dir = new TempDir();
        using var store = new ResultStore(dir.File("r.db"));
        store.Add([.. Enumerable.Range(0, 30).Select(Record)]);
        Assert.That(store.Query(null, null, 5).Select(r => r.Id), Is.EqualTo(new long[] { 26, 27, 28, 29, 30 }), "no cursor: the newest");
        var seen = new List<long>();
        long? after = 0;
        while (true)
        {
            var page = store.Query(after, null, 7);
            if (page.Count == 0) break;
            seen.AddRange(page.Select(r => r.Id));
            after = page[^1].Id;
        }
        Assert.That(seen, Is.EqualTo(Enumerable.Range(1, 30).Select(i => (long)i)), "after=last_id pages through all of them");
        Python.Run("""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1]); c.execute("update results set top = 'not json' where id = 3"); c.commit()
            """, dir.File("r.db"));
        var rows = store.Query(0, null, 10, out var unreadable);
        Assert.That(rows, Has.Count.EqualTo(9));
        Assert.That(unreadable, Is.EqualTo(1));
    }
}
