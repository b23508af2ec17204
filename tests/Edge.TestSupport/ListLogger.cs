using Microsoft.Extensions.Logging;

namespace Edge.TestSupport;

/// <summary>Collects log lines so a test can count what was said.</summary>
public sealed class ListLogger : ILogger
{
    public List<(LogLevel Level, string Message)> Entries { get; } = [];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (Entries) Entries.Add((logLevel, formatter(state, exception)));
    }

    public IEnumerable<string> Warnings => Entries.Where(e => e.Level == LogLevel.Warning).Select(e => e.Message);

    /// <summary>Every message so far (a copy: safe to read while others log).</summary>
    public IReadOnlyList<string> Lines
    {
        get { lock (Entries) return [.. Entries.Select(e => e.Message)]; }
    }
}
