using System.Device.Gpio;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Triggers;

/// <summary>
/// A GPIO input that triggers classification on an edge (a door contact, a light barrier, a button):
/// rising, falling or both, with pull-up/down and debouncing (edges within <c>debounce</c> of the last
/// accepted one are ignored, on the injected clock). The controller, and so the driver, belongs to the caller.
/// </summary>
public sealed class GpioEdgeTrigger : IDisposable
{
    private readonly GpioController _gpio;
    private readonly int _pin;
    /// <summary>The input line (metrics name it).</summary>
    public int Pin => _pin;
    private readonly TimeProvider _clock;
    private readonly long _debounceTicks;
    private readonly Func<bool> _fire;
    private readonly PinChangeEventHandler _handler;
    private long _lastAccepted = long.MinValue;

    public GpioEdgeTrigger(GpioController gpio, int pin, PinMode mode, PinEventTypes edges, TimeSpan debounce, Func<bool> fire, ILogger logger,
        TimeProvider? clock = null)
    {
        _clock = clock ?? TimeProvider.System;
        _gpio = gpio;
        _pin = pin;
        _debounceTicks = (long)(debounce.TotalSeconds * _clock.TimestampFrequency);
        _fire = fire;
        _gpio.OpenPin(pin, mode);
        _handler = OnChange;
        _gpio.RegisterCallbackForPinValueChangedEvent(pin, edges, _handler);
        logger.LogInformation("GPIO trigger on pin {Pin} ({Mode}, {Edges}, debounce {Ms} ms)", pin, mode, edges, debounce.TotalMilliseconds);
    }

    private long _accepted, _ignored, _refused;

    /// <summary>Edges that triggered a classification (shown in /metrics).</summary>
    public long Accepted => Interlocked.Read(ref _accepted);
    /// <summary>Edges past the debounce that the pipeline could not take (its trigger queue was full).</summary>
    public long Refused => Interlocked.Read(ref _refused);
    /// <summary>Edges within the debounce time of an accepted one: contact bounce, shown in /metrics.</summary>
    public long Ignored => Interlocked.Read(ref _ignored);

    private void OnChange(object sender, PinValueChangedEventArgs e)
    {
        var now = _clock.GetTimestamp();
        if (_lastAccepted != long.MinValue && now - _lastAccepted < _debounceTicks)
        {
            Interlocked.Increment(ref _ignored);
            return;
        }
        _lastAccepted = now;
        Interlocked.Increment(ref _fire() ? ref _accepted : ref _refused);
    }

    public void Dispose()
    {
        _gpio.UnregisterCallbackForPinValueChangedEvent(_pin, _handler);
        if (_gpio.IsPinOpen(_pin)) _gpio.ClosePin(_pin);
    }
}
