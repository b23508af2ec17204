using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Capture;

/// <summary>
/// Keeps a frame source alive: opens it, hands each frame on, and when it fails, ends or delivers
/// nothing for <c>noFrameTimeout</c> (live sources only: a watched folder may be quiet for hours),
/// closes and reopens it with exponential backoff. Any failure of a source, expected or not, ends in a
/// reopen: capture never dies silently. Each distinct problem is logged once until frames flow again.
/// The supervisor owns every source it creates: each is disposed when it is replaced, when the run stops,
/// and (the one made up front for its description, if never opened) on <see cref="DisposeAsync"/>.
/// Backoff and the no-frame watchdog run on <paramref name="clock"/> (tests use a fake one).
/// </summary>
public sealed class SourceSupervisor : IAsyncDisposable
{
    private readonly Func<IFrameSource> _factory;
    private readonly TimeSpan _noFrameTimeout;
    private readonly ILogger _logger;
    private readonly bool _restartWhenEnded;
    private readonly Lock _gate = new();
    private readonly TimeProvider _clock;
    private SourceState _state = SourceState.Starting;
    private string? _lastError;
    private long _frames, _reconnects, _garbage;
    private DateTimeOffset? _lastFrameAt;
    private DateTimeOffset _stateSince;
    private readonly Lifecycle.SaidOnce _said = new();
    // Made up front so the status has a description before the first open; RunAsync opens this one first.
    private IFrameSource? _first;
    private string _description;

    public SourceSupervisor(Func<IFrameSource> factory, TimeSpan noFrameTimeout, ILogger logger, bool restartWhenEnded = true, TimeProvider? clock = null)
    {
        _factory = factory;
        _noFrameTimeout = noFrameTimeout;
        _logger = logger;
        _restartWhenEnded = restartWhenEnded;
        _clock = clock ?? TimeProvider.System;
        _stateSince = _clock.GetUtcNow();
        _first = factory();
        _description = _first.Description;
    }

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The current source's description (no snapshot allocated, unlike <see cref="Status"/>).</summary>
    public string Description
    {
        get { lock (_gate) return _description; }
    }

    /// <summary>The clock the supervisor (and whoever reads its <see cref="SourceStatus.StateSince"/>) goes by.</summary>
    public TimeProvider Clock => _clock;

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
            var source = Interlocked.Exchange(ref _first, null) ?? _factory();
            lock (_gate) _description = source.Description;
            long garbageBase;
            lock (_gate) garbageBase = _garbage;
            CancellationTokenSource? sessionTimeout = null;
            CancellationTokenRegistration sessionLink = default;
            try
            {
                var timeLimit = source.IsLive ? _noFrameTimeout : Timeout.InfiniteTimeSpan;
                // Opening is bounded too: a camera that accepts the connection and never answers is a failure, not a wait.
                using (var opening = NewTimeout(ct, out var openingLink))
                using (openingLink)
                {
                    opening.CancelAfter(source.IsLive ? _noFrameTimeout + _noFrameTimeout : Timeout.InfiniteTimeSpan);
                    try
                    {
                        await source.OpenAsync(opening.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        throw new TimeoutException($"no answer within {2 * _noFrameTimeout.TotalSeconds:0.#} s while opening");
                    }
                }
                // A folder that opened is working even before it has a file to give (a camera is working once frames come).
                if (!source.IsLive)
                    lock (_gate)
                        if (_state != SourceState.Running) (_state, _stateSince, _lastError) = (SourceState.Running, _clock.GetUtcNow(), null);
                // One timeout source per session, re-armed per frame (TryReset), so waiting allocates nothing.
                var timeout = sessionTimeout = NewTimeout(ct, out sessionLink);
                while (!ct.IsCancellationRequested)
                {
                    if (!timeout.TryReset())
                    {
                        sessionLink.Dispose();
                        timeout.Dispose();
                        timeout = sessionTimeout = NewTimeout(ct, out sessionLink);
                    }
                    timeout.CancelAfter(timeLimit);
                    Frame? frame;
                    try
                    {
                        frame = await source.ReadAsync(timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        throw new TimeoutException($"no frame for {_noFrameTimeout.TotalSeconds:0.#} s");
                    }
                    if (frame is null)
                    {
                        if (!_restartWhenEnded)
                        {
                            Set(SourceState.Ended, null);
                            _logger.LogInformation("Source {Source} ended", source.Description);
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
                            _stateSince = _clock.GetUtcNow();
                            _lastError = null;
                        }
                    }
                    if (troubled)
                    {
                        // Said once per recovery that followed a problem that was said; a camera that flaps
                        // (one frame, exit, again) is not a line per cycle: problems become news again only
                        // after frames have flowed for a minute.
                        if (saidSinceRecovery) _logger.LogInformation("Source {Source} is delivering frames again", source.Description);
                        saidSinceRecovery = false;
                        troubled = false;
                        recoveredAt = _clock.GetUtcNow();
                    }
                    else if (recoveredAt is { } at && _clock.GetUtcNow() - at > TimeSpan.FromMinutes(1))
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
                    _logger.LogWarning("Source {Source}: {Reason}; reopening (retrying with backoff up to {Max} s)", source.Description, reason, MaxBackoff.TotalSeconds);
                    saidSinceRecovery = true;
                }
            }
            finally
            {
                sessionLink.Dispose(); // before the source it cancels
                sessionTimeout?.Dispose();
                try { await source.DisposeAsync().ConfigureAwait(false); }
                catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException) { }
            }
            try { await Task.Delay(backoff, _clock, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
        }
        Set(SourceState.Stopped, null);
    }

    /// <summary>
    /// A cancellation source whose CancelAfter runs on the supervisor's clock, cancelled with <paramref name="ct"/> too
    /// (a linked source would time out on the system clock). Dispose the link before the source.
    /// </summary>
    private CancellationTokenSource NewTimeout(CancellationToken ct, out CancellationTokenRegistration link)
    {
        var timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _clock);
        link = ct.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeout);
        return timeout;
    }

    /// <summary>Disposes the source made up front if no run opened it (a run disposes each source it used).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _first, null) is { } unused)
            await unused.DisposeAsync().ConfigureAwait(false);
    }

    private void Set(SourceState state, string? error)
    {
        lock (_gate)
        {
            if (_state != state) _stateSince = _clock.GetUtcNow();
            _state = state;
            if (error is not null) _lastError = error;
        }
    }
}
