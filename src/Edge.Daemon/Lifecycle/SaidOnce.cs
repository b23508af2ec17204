namespace Edge.Daemon.Lifecycle;

/// <summary>
/// Which problems have been logged already, so that each distinct one is said once however the
/// problems alternate (A, B, A, B logs A and B), until <see cref="Reset"/> (the thing works again).
/// Bounded: after <c>capacity</c> distinct problems, new ones are only counted (the status API shows
/// the latest). Thread-safe.
/// </summary>
public sealed class SaidOnce(int capacity = 32)
{
    private readonly HashSet<string> _said = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>True the first time <paramref name="problem"/> is seen (the caller logs it), false afterwards.</summary>
    public bool First(string problem)
    {
        lock (_gate) return _said.Count < capacity && _said.Add(problem);
    }

    /// <summary>Forget what was said: the next problem is news again.</summary>
    public void Reset()
    {
        lock (_gate) _said.Clear();
    }
}
