using Edge.Core.Imaging;
using Edge.Daemon.Capture;
using Edge.Daemon.Pipeline;

namespace Edge.Daemon.Triggers;

/// <summary>
/// The trigger stage of a camera's pipeline: whether a captured frame is classified. Requested frames (HTTP, GPIO, PIR)
/// come first; then, by mode, a rate schedule (continuous) or motion with its cooldown. Frames that are not due are
/// counted as skipped, so that captured frames add up. Runs on the pipeline's thread and allocates nothing per frame;
/// <see cref="Request"/> may be called from any thread. Times are timestamps of the pipeline's clock.
/// </summary>
public sealed class FrameTrigger : IDisposable
{
    private readonly PipelineSettings _settings;
    private readonly long _minIntervalTicks, _cooldownTicks;
    private readonly MotionDetector? _motion;
    private long _nextDue; // continuous mode: when the next classification is allowed
    private long _lastMotionAt = long.MinValue / 2;
    private long _lastClassifiedAt;
    private int _pending, _pendingInputs; // frames asked for by requests (HTTP), by the camera's input (GPIO, PIR)
    private long _skipped, _motionEvents;

    /// <summary>Most requested frames waiting at once: requests beyond are refused, not queued without end.</summary>
    public const int MaxPendingFrames = 100;

    public FrameTrigger(PipelineSettings settings, TimeProvider clock)
    {
        _settings = settings;
        _minIntervalTicks = (long)(clock.TimestampFrequency / settings.MaxRate);
        _cooldownTicks = (long)(settings.MotionCooldown.TotalSeconds * clock.TimestampFrequency);
        _motion = settings.Mode == TriggerMode.Motion ? new MotionDetector(settings.Motion) : null;
    }

    /// <summary>Frames captured but not due (the rate limit, no motion, no trigger).</summary>
    public long Skipped => Interlocked.Read(ref _skipped);
    /// <summary>Frames in which motion was seen.</summary>
    public long MotionEvents => Interlocked.Read(ref _motionEvents);

    /// <summary>
    /// Asks for the next <c>Burst</c> frames to be classified; false when too many already wait. <paramref name="fromInput"/>:
    /// the camera's own input (its GPIO line or PIR sensor) asked, else a request (HTTP): results say which.
    /// </summary>
    public bool Request(bool fromInput = false)
    {
        var burst = _settings.Burst;
        while (true)
        {
            var requests = Volatile.Read(ref _pending);
            var inputs = Volatile.Read(ref _pendingInputs);
            if (requests + inputs + burst > Math.Max(MaxPendingFrames, burst)) return false;
            if (fromInput ? Interlocked.CompareExchange(ref _pendingInputs, inputs + burst, inputs) == inputs
                    : Interlocked.CompareExchange(ref _pending, requests + burst, requests) == requests)
                return true;
        }
    }

    /// <summary>
    /// Why <paramref name="frame"/> is classified ("http", "gpio", "continuous", "motion"), or null when it is not due.
    /// A frame the motion detector cannot decode is not due and comes back in <paramref name="corrupt"/> (counted by the
    /// caller as corrupt, not as skipped).
    /// </summary>
    public string? Due(Frame frame, long now, out ImageDecodeException? corrupt)
    {
        corrupt = null;
        if (Volatile.Read(ref _pendingInputs) > 0)
        {
            Interlocked.Decrement(ref _pendingInputs);
            return _settings.Mode == TriggerMode.Pir ? "pir" : "gpio";
        }
        if (Volatile.Read(ref _pending) > 0)
        {
            Interlocked.Decrement(ref _pending);
            return "http";
        }
        if (_settings.Mode == TriggerMode.Continuous && (_settings.Lossless || now >= _nextDue))
        {
            // A schedule, not a gap since the last one: a 30 fps camera at MaxRate 30 whose frames come a
            // little early or late is still classified 30 times a second (a gap test halves that).
            _nextDue = Math.Max(_nextDue, now - _minIntervalTicks) + _minIntervalTicks;
            return "continuous";
        }
        if (_motion is not null && MotionDue(frame, now, out corrupt)) return "motion";
        if (corrupt is null) Interlocked.Increment(ref _skipped);
        return null;
    }

    /// <summary>A frame was classified at <paramref name="now"/> (motion waits at least the rate's interval after it).</summary>
    public void Classified(long now) => _lastClassifiedAt = now;

    private bool MotionDue(Frame frame, long now, out ImageDecodeException? corrupt)
    {
        corrupt = null;
        bool moved;
        try { moved = _motion!.Update(frame.Data); }
        catch (ImageDecodeException e)
        {
            corrupt = e;
            return false;
        }
        if (!moved) return false;
        Interlocked.Increment(ref _motionEvents);
        if (now - _lastMotionAt < _cooldownTicks || now - _lastClassifiedAt < _minIntervalTicks) return false;
        _lastMotionAt = now;
        return true;
    }

    public void Dispose() => _motion?.Dispose();
}
