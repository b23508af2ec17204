using System.Device.Gpio;
using Edge.Daemon.Storage;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Actions;

/// <summary>
/// "Label L with score ≥ t → pin P high for D ms": drives an output (a reject gate, a lamp, a relay)
/// on results. A new match while the pin is high extends the pulse. The pin starts low and is left
/// low on dispose. The pulse is timed on the injected clock. The controller belongs to the caller.
/// </summary>
public sealed class GpioOutputRule : IDisposable
{
    private readonly GpioController _gpio;
    private readonly ITimer _timer;
    private readonly Lock _gate = new();
    private readonly ILogger _logger;
    private bool _high;

    public GpioOutputRule(GpioController gpio, string label, float minScore, int pin, TimeSpan duration, ILogger logger, TimeProvider? clock = null)
    {
        _gpio = gpio;
        Label = label;
        MinScore = minScore;
        Pin = pin;
        Duration = duration;
        _logger = logger;
        _gpio.OpenPin(pin, PinMode.Output, PinValue.Low);
        _timer = (clock ?? TimeProvider.System).CreateTimer(static r => ((GpioOutputRule)r!).Release(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public string Label { get; }
    public float MinScore { get; }
    /// <summary>The region whose results drive the pin; null = every region (or the whole frame).</summary>
    public string? Region { get; init; }
    public int Pin { get; }
    public TimeSpan Duration { get; }
    private long _fired;

    /// <summary>Results that matched the rule (each raised the pin or extended its pulse); shown in /metrics.</summary>
    public long Fired => Interlocked.Read(ref _fired);

    /// <summary>True when the result matches (its best class is the label with enough score) and the pin was driven.</summary>
    public bool Apply(ReadOnlySpan<StoredPrediction> top)
    {
        if (top.Length == 0 || top[0].Label != Label || top[0].Score < MinScore) return false;
        lock (_gate)
        {
            if (!_high)
            {
                _gpio.Write(Pin, PinValue.High);
                _high = true;
            }
            _timer.Change(Duration, Timeout.InfiniteTimeSpan);
            Interlocked.Increment(ref _fired);
        }
        return true;
    }

    private void Release()
    {
        lock (_gate)
        {
            if (!_high) return;
            try { _gpio.Write(Pin, PinValue.Low); }
            catch (Exception e) when (e is IOException or InvalidOperationException) { _logger.LogWarning("GPIO pin {Pin}: {Reason}", Pin, e.Message); }
            _high = false;
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        Release();
        if (_gpio.IsPinOpen(Pin)) _gpio.ClosePin(Pin);
    }
}
