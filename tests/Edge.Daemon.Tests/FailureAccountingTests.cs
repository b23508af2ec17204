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
}
