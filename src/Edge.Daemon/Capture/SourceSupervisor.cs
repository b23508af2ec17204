using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Capture;

public enum SourceState { Starting, Running, Reconnecting, Ended, Stopped }

/// <summary>What the status API shows about the camera.</summary>
public sealed record SourceStatus(string Description, SourceState State, string? LastError, long Frames, long Reconnects, long GarbageBytes, DateTimeOffset? LastFrameAt);

/// <summary>
/// Keeps a frame source alive: opens it, hands each frame on, and when it fails, ends or delivers
/// nothing for <c>noFrameTimeout</c>, closes and reopens it with exponential backoff. Each change of
/// state is logged once (not once per failed frame or retry).
/// </summary>
public sealed class SourceSupervisor(Func<IFrameSource> factory, TimeSpan noFrameTimeout, ILogger logger, bool restartWhenEnded = true)
{
    private readonly Lock _gate = new();
    private SourceState _state = SourceState.Starting;
    private string? _lastError;
    private long _frames, _reconnects, _garbage;
    private DateTimeOffset? _lastFrameAt;
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
        get { lock (_gate) return new SourceStatus(_description, _state, _lastError, _frames, _reconnects, _garbage, _lastFrameAt); }
    }

    /// <summary>Runs until cancelled (or the source ends and is not to be restarted), calling <paramref name="onFrame"/> for each frame (which then owns it).</summary>
    public async Task RunAsync(Func<Frame, ValueTask> onFrame, CancellationToken ct)
    {
        var backoff = InitialBackoff;
        string? reportedError = null;
        while (!ct.IsCancellationRequested)
        {
            var source = factory();
            lock (_gate) _description = source.Description;
            long garbageBase;
            lock (_gate) garbageBase = _garbage;
            CancellationTokenSource? sessionTimeout = null;
            try
            {
                await source.OpenAsync(ct).ConfigureAwait(false);
                // One timeout source per session, re-armed per frame (TryReset), so waiting allocates nothing.
                var timeout = sessionTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                while (!ct.IsCancellationRequested)
                {
                    if (!timeout.TryReset())
                    {
                        timeout.Dispose();
                        timeout = sessionTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    }
                    timeout.CancelAfter(noFrameTimeout);
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
                            _lastError = null;
                        }
                    }
                    if (reportedError is not null || backoff != InitialBackoff)
                    {
                        logger.LogInformation("Source {Source} is delivering frames again", source.Description);
                        reportedError = null;
                    }
                    backoff = InitialBackoff;
                    await onFrame(frame).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is IOException or TimeoutException or UnauthorizedAccessException or HttpRequestException
                                          or System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                lock (_gate)
                {
                    _reconnects++;
                    _garbage = garbageBase + source.GarbageBytes;
                }
                Set(SourceState.Reconnecting, e.Message);
                if (e.Message != reportedError)
                {
                    logger.LogWarning("Source {Source}: {Reason}; reopening (retrying with backoff up to {Max} s)", source.Description, e.Message, MaxBackoff.TotalSeconds);
                    reportedError = e.Message;
                }
            }
            finally
            {
                sessionTimeout?.Dispose();
                await source.DisposeAsync().ConfigureAwait(false);
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
            _state = state;
            if (error is not null) _lastError = error;
        }
    }
}
