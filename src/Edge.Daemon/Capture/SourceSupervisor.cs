using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Capture;

public enum SourceState { Starting, Running, Reconnecting, Ended, Stopped }

/// <summary>What the status API shows about the camera.</summary>
public sealed record SourceStatus(string Description, SourceState State, string? LastError, long Frames, long Reconnects, long GarbageBytes,
    DateTimeOffset? LastFrameAt, DateTimeOffset StateSince);

/// <summary>
/// Keeps a frame source alive: opens it, hands each frame on, and when it fails, ends or delivers
/// nothing for <c>noFrameTimeout</c> (live sources only: a watched folder may be quiet for hours),
/// closes and reopens it with exponential backoff. Any failure of a source, expected or not, ends in a
/// reopen: capture never dies silently. Each distinct problem is logged once until frames flow again.
/// </summary>
public sealed class SourceSupervisor(Func<IFrameSource> factory, TimeSpan noFrameTimeout, ILogger logger, bool restartWhenEnded = true)
{
    private readonly Lock _gate = new();
    private SourceState _state = SourceState.Starting;
    private string? _lastError;
    private long _frames, _reconnects, _garbage;
    private DateTimeOffset? _lastFrameAt;
    private DateTimeOffset _stateSince = DateTimeOffset.UtcNow;
    private readonly Lifecycle.SaidOnce _said = new();
    private string _description = factory().Description;

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The current source's description (no snapshot allocated, unlike <see cref="Status"/>).</summary>
    public string Description
    {
        get { lock (_gate) return _description; }
    }

    public SourceStatus Status
    {
        get { lock (_gate) return new SourceStatus(_description, _state, _lastError, _frames, _reconnects, _garbage, _lastFrameAt, _stateSince); }
    }

    /// <summary>Runs until cancelled (or the source ends and is not to be restarted), calling <paramref name="onFrame"/> for each frame (which then owns it).</summary>
    public async Task RunAsync(Func<Frame, ValueTask> onFrame, CancellationToken ct)
    {
        var backoff = InitialBackoff;
        var troubled = false;
        var saidSinceRecovery = false;
        DateTimeOffset? recoveredAt = null;
        while (!ct.IsCancellationRequested)
        {
            var source = factory();
            lock (_gate) _description = source.Description;
            long garbageBase;
            lock (_gate) garbageBase = _garbage;
            CancellationTokenSource? sessionTimeout = null;
            try
            {
                var timeLimit = source.IsLive ? noFrameTimeout : Timeout.InfiniteTimeSpan;
                // Opening is bounded too: a camera that accepts the connection and never answers is a failure, not a wait.
                using (var opening = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    opening.CancelAfter(source.IsLive ? noFrameTimeout + noFrameTimeout : Timeout.InfiniteTimeSpan);
                    try
                    {
                        await source.OpenAsync(opening.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        throw new TimeoutException($"no answer within {2 * noFrameTimeout.TotalSeconds:0.#} s while opening");
                    }
                }
                // A folder that opened is working even before it has a file to give (a camera is working once frames come).
                if (!source.IsLive)
                    lock (_gate)
                        if (_state != SourceState.Running) (_state, _stateSince, _lastError) = (SourceState.Running, DateTimeOffset.UtcNow, null);
                // One timeout source per session, re-armed per frame (TryReset), so waiting allocates nothing.
                var timeout = sessionTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                while (!ct.IsCancellationRequested)
                {
                    if (!timeout.TryReset())
                    {
                        timeout.Dispose();
                        timeout = sessionTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    }
                    timeout.CancelAfter(timeLimit);
                    Frame? frame;
                    try
                    {
                        frame = await source.ReadAsync(timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        throw new TimeoutException($"no frame for {noFrameTimeout.TotalSeconds:0.#} s");
                    }
                    if (frame is null)
                    {
                        if (!restartWhenEnded)
                        {
                            Set(SourceState.Ended, null);
                            logger.LogInformation("Source {Source} ended", source.Description);
                            return;
                        }
                        throw new EndOfStreamException("the source ended");
                    }
                    lock (_gate)
                    {
                        _frames++;
                        _lastFrameAt = frame.Time;
                        _garbage = garbageBase + source.GarbageBytes;
                        if (_state != SourceState.Running)
                        {
                            _state = SourceState.Running;
                            _stateSince = DateTimeOffset.UtcNow;
                            _lastError = null;
                        }
                    }
                    if (troubled)
                    {
                        // Said once per recovery that followed a problem that was said; a camera that flaps
                        // (one frame, exit, again) is not a line per cycle: problems become news again only
                        // after frames have flowed for a minute.
                        if (saidSinceRecovery) logger.LogInformation("Source {Source} is delivering frames again", source.Description);
                        saidSinceRecovery = false;
                        troubled = false;
                        recoveredAt = DateTimeOffset.UtcNow;
                    }
                    else if (recoveredAt is { } at && DateTimeOffset.UtcNow - at > TimeSpan.FromMinutes(1))
                    {
                        _said.Reset();
                        recoveredAt = null;
                    }
                    backoff = InitialBackoff;
                    await onFrame(frame).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // Expected failures (camera gone, process exited, silence) and unexpected ones alike end in a
                // reopen with backoff: a source must never stop capture while the status says Running.
                var reason = e is IOException or TimeoutException or UnauthorizedAccessException or HttpRequestException
                                 or System.ComponentModel.Win32Exception or InvalidOperationException
                    ? e.Message
                    : $"{e.GetType().Name}: {e.Message}";
                lock (_gate)
                {
                    _reconnects++;
                    _garbage = garbageBase + source.GarbageBytes;
                }
                Set(SourceState.Reconnecting, reason);
                troubled = true;
                recoveredAt = null;
                if (_said.First(reason))
                {
                    logger.LogWarning("Source {Source}: {Reason}; reopening (retrying with backoff up to {Max} s)", source.Description, reason, MaxBackoff.TotalSeconds);
                    saidSinceRecovery = true;
                }
            }
            finally
            {
                sessionTimeout?.Dispose();
                try { await source.DisposeAsync().ConfigureAwait(false); }
                catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException) { }
            }
            try { await Task.Delay(backoff, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
        }
        Set(SourceState.Stopped, null);
    }

    private void Set(SourceState state, string? error)
    {
        lock (_gate)
        {
            if (_state != state) _stateSince = DateTimeOffset.UtcNow;
            _state = state;
            if (error is not null) _lastError = error;
        }
    }
}
