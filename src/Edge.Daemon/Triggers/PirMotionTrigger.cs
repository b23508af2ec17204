using System.Device.Gpio;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Triggers;

/// <summary>
/// A passive-infrared motion sensor (HC-SR501 and the many modules like it) as a trigger: its output goes high when it
/// sees a warm body move, and each rise asks for a burst of frames. The sensor drives its output (no pull resistor) and
/// holds it high for its own delay (a potentiometer on the module), then ignores motion for a moment, so it needs no
/// debouncing here. Written on System.Device.Gpio: Iot.Device.Bindings' Hcsr501 publishes with an AOT warning (IL2091).
/// The controller belongs to the caller.
/// </summary>
public sealed class PirMotionTrigger : IDisposable
{
    private readonly GpioController _gpio;
    private readonly Func<bool> _fire;
    private readonly PinChangeEventHandler _handler;
    private long _accepted, _refused;

    public PirMotionTrigger(GpioController gpio, int pin, Func<bool> fire, ILogger logger)
    {
        _gpio = gpio;
        Pin = pin;
        _fire = fire;
        _gpio.OpenPin(pin, PinMode.Input);
        _handler = OnRise;
        _gpio.RegisterCallbackForPinValueChangedEvent(pin, PinEventTypes.Rising, _handler);
        logger.LogInformation("PIR motion sensor on pin {Pin}", pin);
    }

    /// <summary>The sensor's output line (metrics name it).</summary>
    public int Pin { get; }
    /// <summary>Motion that triggered a classification.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);
    /// <summary>Motion the camera could not take (its trigger queue was full).</summary>
    public long Refused => Interlocked.Read(ref _refused);
    /// <summary>Whether the sensor sees motion now.</summary>
    public bool MotionNow => _gpio.Read(Pin) == PinValue.High;

    private void OnRise(object sender, PinValueChangedEventArgs e) => Interlocked.Increment(ref _fire() ? ref _accepted : ref _refused);

    public void Dispose()
    {
        _gpio.UnregisterCallbackForPinValueChangedEvent(Pin, _handler);
        if (_gpio.IsPinOpen(Pin)) _gpio.ClosePin(Pin);
    }
}
