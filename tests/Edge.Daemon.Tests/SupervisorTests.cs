using Edge.Daemon.Capture;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Daemon.Tests;

/// <summary>The source supervisor on a fake clock: who disposes sources, how long it backs off, when its watchdog fires.</summary>
public class SupervisorTests
{
    private static async Task Until(Func<bool> condition, string what)
    {
        // Waiting for another task to get somewhere, not timing: the clock is fake.
        for (var i = 0; i < 4000 && !condition(); i++) await Task.Delay(5);
        Assert.That(condition(), Is.True, what);
    }

    /// <summary>A source that follows a per-session script and records its life in a shared journal.</summary>
    private sealed class ScriptedSource(int id, List<string> journal, bool openFails, int framesBeforeFailing, Action? onRead = null) : IFrameSource
    {
        private int _given;
        public string Description => $"scripted #{id}";
        public ValueTask OpenAsync(CancellationToken ct)
        {
            lock (journal) journal.Add($"open {id}");
            return openFails ? throw new IOException($"source {id} cannot open") : ValueTask.CompletedTask;
        }
        public async ValueTask<Frame?> ReadAsync(CancellationToken ct)
        {
            onRead?.Invoke();
            if (_given < framesBeforeFailing) return Frame.Copy([1, 2, 3], ++_given, DateTimeOffset.UnixEpoch);
            if (framesBeforeFailing >= 0) throw new IOException($"source {id} failed");
            await Task.Delay(Timeout.Infinite, ct); // a silent camera
            return null;
        }
        public ValueTask DisposeAsync()
        {
            lock (journal) journal.Add($"dispose {id}");
            return ValueTask.CompletedTask;
        }
    }

    [Test]
    public async Task EverySourceItCreatesIsDisposedOnceWhenReplacedAndAtStop()
    {
        var journal = new List<string>();
        var made = 0;
        // Each source gives two frames and fails: the supervisor replaces it.
        var supervisor = new SourceSupervisor(() => { var id = ++made; lock (journal) journal.Add($"make {id}"); return new ScriptedSource(id, journal, false, 2); },
            TimeSpan.FromSeconds(5), new ListLogger()) { InitialBackoff = TimeSpan.Zero, MaxBackoff = TimeSpan.Zero };
        using var cts = new CancellationTokenSource();
        var frames = 0;
        var run = supervisor.RunAsync(f => { f.Dispose(); if (++frames == 6) cts.Cancel(); return ValueTask.CompletedTask; }, cts.Token);
        await run.WaitAsync(TimeSpan.FromSeconds(20));
        await supervisor.DisposeAsync();
        List<string> seen;
        lock (journal) seen = [.. journal];
        // The first source is made up front (for the description) and is the one opened first: none is made and left.
        Assert.That(seen, Is.EqualTo(new[] { "make 1", "open 1", "dispose 1", "make 2", "open 2", "dispose 2", "make 3", "open 3", "dispose 3" }),
            "each source disposed once, before the next is made, and the last at stop");
        Assert.That(supervisor.Status.Reconnects, Is.EqualTo(2));
    }

    [Test]
    public async Task ASupervisorThatNeverRanDisposesTheSourceItMadeForItsDescription()
    {
        var journal = new List<string>();
        var supervisor = new SourceSupervisor(() => new ScriptedSource(1, journal, false, 0), TimeSpan.FromSeconds(5), new ListLogger());
        Assert.That(supervisor.Description, Is.EqualTo("scripted #1"));
        await supervisor.DisposeAsync();
        await supervisor.DisposeAsync();
        Assert.That(journal, Is.EqualTo(new[] { "dispose 1" }));
    }

    [Test]
    public async Task BackoffDoublesUpToTheMaximumOnTheClockAndStartsOverOnceFramesFlow()
    {
        var clock = new RecordingClock();
        var journal = new List<string>();
        var made = 0;
        // Sessions 1-4 cannot open; 5 gives a frame and fails; 6 cannot open again.
        var supervisor = new SourceSupervisor(() => { var id = ++made; return new ScriptedSource(id, journal, id is <= 4 or >= 6, 1); },
            TimeSpan.FromSeconds(30), new ListLogger(), clock: clock) { InitialBackoff = TimeSpan.FromSeconds(1), MaxBackoff = TimeSpan.FromSeconds(4) };
        using var cts = new CancellationTokenSource();
        var frames = 0;
        var run = supervisor.RunAsync(f => { f.Dispose(); frames++; return ValueTask.CompletedTask; }, cts.Token);
        var expected = new[] { 1, 2, 4, 4, 1, 2 }.Select(s => TimeSpan.FromSeconds(s)).ToArray();
        for (var i = 0; i < expected.Length; i++)
        {
            await Until(() => clock.Delays.Count(d => d >= TimeSpan.FromSeconds(1)) > i, $"backoff {i + 1} to be armed");
            var delays = clock.Delays.Where(d => d >= TimeSpan.FromSeconds(1)).ToList();
            Assert.That(delays[i], Is.EqualTo(expected[i]), $"backoff {i + 1}");
            Assert.That(journal.Count(e => e.StartsWith("open", StringComparison.Ordinal)), Is.EqualTo(i + 1), "no reopen before the backoff has passed");
            clock.Fake.Advance(expected[i]);
        }
        Assert.That(frames, Is.EqualTo(1));
        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(supervisor.Status.State, Is.EqualTo(SourceState.Stopped));
    }

    [Test]
    public async Task ALiveSourceSilentForTheNoFrameTimeoutIsReopened()
    {
        var clock = new FakeTimeProvider();
        var journal = new List<string>();
        var reading = 0;
        var made = 0;
        var supervisor = new SourceSupervisor(() => new ScriptedSource(++made, journal, false, -1, () => Interlocked.Increment(ref reading)),
            TimeSpan.FromSeconds(5), new ListLogger(), clock: clock) { InitialBackoff = TimeSpan.FromSeconds(1) };
        using var cts = new CancellationTokenSource();
        var run = supervisor.RunAsync(f => { f.Dispose(); return ValueTask.CompletedTask; }, cts.Token);
        await Until(() => Volatile.Read(ref reading) == 1, "the first read");
        clock.Advance(TimeSpan.FromMilliseconds(4999));
        Assert.That(supervisor.Status.Reconnects, Is.Zero, "4.999 s of silence is within the timeout");
        Assert.That(supervisor.Status.State, Is.EqualTo(SourceState.Starting));
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await Until(() => supervisor.Status.Reconnects == 1, "the watchdog to fire at 5 s");
        Assert.That(supervisor.Status.State, Is.EqualTo(SourceState.Reconnecting));
        Assert.That(supervisor.Status.LastError, Is.EqualTo("no frame for 5 s"));
        await Until(() => journal.Contains("dispose 1"), "the silent source to be closed");
        clock.Advance(TimeSpan.FromSeconds(1));
        await Until(() => Volatile.Read(ref reading) == 2, "the reopened source to be read");
        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(20));
        await supervisor.DisposeAsync();
        Assert.That(journal, Is.EqualTo(new[] { "open 1", "dispose 1", "open 2", "dispose 2" }));
    }
}

/// <summary>A fake clock that records the due time of each one-shot timer made (Task.Delay's), so a test advances exactly when a wait is armed.</summary>
internal sealed class RecordingClock : TimeProvider
{
    public FakeTimeProvider Fake { get; } = new();
    private readonly List<TimeSpan> _delays = [];
    public List<TimeSpan> Delays { get { lock (_delays) return [.. _delays]; } }
    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();
    public override long GetTimestamp() => Fake.GetTimestamp();
    public override long TimestampFrequency => Fake.TimestampFrequency;
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (dueTime != Timeout.InfiniteTimeSpan) lock (_delays) _delays.Add(dueTime);
        return Fake.CreateTimer(callback, state, dueTime, period);
    }
}
