using Edge.Core.Diagnostics;

namespace Edge.Daemon.Pipeline;

/// <summary>The last N latencies and their times, for percentiles and rates on the status page. Thread-safe.</summary>
public sealed class LatencyWindow(int capacity = 1024)
{
    private readonly double[] _values = new double[capacity];
    private readonly long[] _times = new long[capacity];
    private readonly Lock _gate = new();
    private int _next, _count;
    private long _total;
    private double _sumMs;

    public void Add(double ms)
    {
        lock (_gate)
        {
            _total++;
            _sumMs += ms;
            _values[_next] = ms;
            _times[_next] = Environment.TickCount64;
            _next = (_next + 1) % capacity;
            if (_count < capacity) _count++;
        }
    }

    /// <summary>
    /// Every value added since start, counted and summed (not only the window's): a Prometheus summary's _sum and
    /// _count must only grow, or rate() reads a window sliding past its capacity as a counter reset.
    /// </summary>
    public (double SumMs, long Count) Cumulative
    {
        get { lock (_gate) return (_sumMs, _total); }
    }

    /// <summary>p50, p90, p99 of the window (<see cref="Percentile"/>), or zeros when empty.</summary>
    public (double P50, double P90, double P99, int Count) Percentiles()
    {
        double[] copy;
        lock (_gate) copy = _values[.._count];
        if (copy.Length == 0) return (0, 0, 0, 0);
        Array.Sort(copy);
        return (Percentile.OfSorted(copy, 50), Percentile.OfSorted(copy, 90), Percentile.OfSorted(copy, 99), copy.Length);
    }

    /// <summary>Events per second over the last <paramref name="seconds"/>.</summary>
    public double Rate(double seconds = 10)
    {
        var since = Environment.TickCount64 - (long)(seconds * 1000);
        var n = 0;
        lock (_gate)
            for (var i = 0; i < _count; i++)
                if (_times[i] >= since) n++;
        return n / seconds;
    }

    /// <summary>The newest values, oldest first (for the page's sparkline).</summary>
    public double[] Recent(int n)
    {
        lock (_gate)
        {
            n = Math.Min(n, _count);
            var result = new double[n];
            for (var i = 0; i < n; i++) result[i] = _values[((_next - n + i) % capacity + capacity) % capacity];
            return result;
        }
    }
}
