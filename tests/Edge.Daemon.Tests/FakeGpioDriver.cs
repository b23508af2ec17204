using System.Device.Gpio;

namespace Edge.Daemon.Tests;

/// <summary>
/// GPIO faked at the driver boundary: pins hold values, writes are recorded with their time, and a
/// test raises input edges as a real line would. Everything above the driver is the real code.
/// </summary>
internal sealed class FakeGpioDriver : GpioDriver
{
    private readonly Dictionary<int, PinValue> _values = [];
    private readonly Dictionary<int, PinMode> _modes = [];
    private readonly List<(int Pin, PinEventTypes Edges, PinChangeEventHandler Handler)> _callbacks = [];

    public List<(int Pin, PinValue Value, long Ticks)> Writes { get; } = [];

    protected override int PinCount => 64;
    protected override void OpenPin(int pinNumber) => _values.TryAdd(pinNumber, PinValue.Low);
    protected override void ClosePin(int pinNumber) => _values.Remove(pinNumber);
    protected override void SetPinMode(int pinNumber, PinMode mode)
    {
        _modes[pinNumber] = mode;
        if (mode == PinMode.InputPullUp) _values[pinNumber] = PinValue.High;
    }
    protected override PinMode GetPinMode(int pinNumber) => _modes.GetValueOrDefault(pinNumber);
    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => true;
    protected override PinValue Read(int pinNumber) => _values.GetValueOrDefault(pinNumber);
    protected override void Write(int pinNumber, PinValue value)
    {
        _values[pinNumber] = value;
        lock (Writes) Writes.Add((pinNumber, value, Environment.TickCount64));
    }
    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken) =>
        throw new NotSupportedException("the daemon uses callbacks");
    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback) =>
        _callbacks.Add((pinNumber, eventTypes, callback));
    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback) =>
        _callbacks.RemoveAll(c => c.Pin == pinNumber && c.Handler == callback);

    /// <summary>Drives an input line to <paramref name="value"/>, raising the edge if it changes.</summary>
    public void Set(int pin, PinValue value)
    {
        var old = _values.GetValueOrDefault(pin);
        _values[pin] = value;
        if (old == value) return;
        var edge = value == PinValue.High ? PinEventTypes.Rising : PinEventTypes.Falling;
        foreach (var (p, edges, handler) in _callbacks.ToList())
            if (p == pin && (edges & edge) != 0) handler(this, new PinValueChangedEventArgs(edge, pin));
    }

    public PinValue Value(int pin) => _values.GetValueOrDefault(pin);
}
