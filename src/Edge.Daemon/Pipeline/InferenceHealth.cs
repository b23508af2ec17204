namespace Edge.Daemon.Pipeline;

/// <summary>
/// Whether classification is working: counts failures, remembers the last one, notices a
/// classification that never returns and a processing loop that died. The daemon reports unhealthy
/// and stops feeding the systemd watchdog when this is not <see cref="Alive"/>, so that a daemon that
/// cannot classify is restarted instead of answering "ok". The clock is injectable for tests.
/// </summary>
public sealed class InferenceHealth(TimeProvider? clock = null, int failuresBeforeUnhealthy = 3, TimeSpan? stuckAfter = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly TimeSpan _stuckAfter = stuckAfter ?? TimeSpan.FromSeconds(60);
    private long _startedAt; // timestamp of the classification in flight, 0 when none
    private int _consecutive;
    private long _failures;
    private string? _lastFailure;
    private string? _fault;

    public long Failures => Interlocked.Read(ref _failures);
    public string? LastFailure => Volatile.Read(ref _lastFailure);
    public int ConsecutiveFailures => Volatile.Read(ref _consecutive);

    /// <summary>A classification starts (called per frame: no allocation).</summary>
    public void Begin() => Volatile.Write(ref _startedAt, _clock.GetTimestamp());

    public void Succeeded()
    {
        Volatile.Write(ref _startedAt, 0);
        Volatile.Write(ref _consecutive, 0);
    }

    public void Failed(string reason)
    {
        Volatile.Write(ref _startedAt, 0);
        Interlocked.Increment(ref _failures);
        Interlocked.Increment(ref _consecutive);
        Volatile.Write(ref _lastFailure, reason);
    }

    /// <summary>Another model runs now: failures in a row start again from zero (the old model's are not the new one's).</summary>
    public void ModelChanged() => Volatile.Write(ref _consecutive, 0);

    /// <summary>The processing loop itself ended with an error: nothing will be classified any more.</summary>
    public void Faulted(string reason) => Volatile.Write(ref _fault, reason);

    /// <summary>Seconds the classification in flight has been running, or 0.</summary>
    private double InFlightSeconds
    {
        get
        {
            var started = Volatile.Read(ref _startedAt);
            return started == 0 ? 0 : _clock.GetElapsedTime(started).TotalSeconds;
        }
    }

    /// <summary>False when classification is broken in a way only a restart can mend.</summary>
    public bool Alive => Problem() is null;

    /// <summary>What is wrong with classification, in one line, or null.</summary>
    public string? Problem()
    {
        if (Volatile.Read(ref _fault) is { } fault) return $"pipeline: stopped: {fault}";
        if (InFlightSeconds is var s && s > _stuckAfter.TotalSeconds) return $"inference: a classification has been running for {s:0} s";
        var n = ConsecutiveFailures;
        if (n >= failuresBeforeUnhealthy) return $"inference: the last {n} classifications failed: {LastFailure}";
        return null;
    }
}
