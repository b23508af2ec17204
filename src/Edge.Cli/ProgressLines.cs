using System.Globalization;
using Edge.Core.Diagnostics;

namespace Edge.Cli;

/// <summary>
/// Progress for logs and pipes: "TOOL: STEP DONE/TOTAL (P%)" on standard error, at most one line per
/// <see cref="Interval"/> for a step, plus its first and last (standard output stays for --json).
/// Terminals may draw bars instead; the producer does not know which.
/// </summary>
public sealed class ProgressLines(string tool, TextWriter? output = null, TimeProvider? clock = null) : IProgress<StepProgress>
{
    private readonly TextWriter _output = output ?? Console.Error;
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private string? _step;
    private long _lastLine;

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(2);

    public void Report(StepProgress value)
    {
        lock (_gate)
        {
            var now = _clock.GetTimestamp();
            var first = value.Step != _step;
            var last = value.Total > 0 && value.Done >= value.Total;
            if (!first && !last && _clock.GetElapsedTime(_lastLine, now) < Interval) return;
            _step = value.Step;
            _lastLine = now;
            _output.WriteLine(value.Total > 0
                ? string.Create(CultureInfo.InvariantCulture, $"{tool}: {value.Step} {value.Done}/{value.Total} ({100.0 * value.Done / value.Total:0}%)")
                : string.Create(CultureInfo.InvariantCulture, $"{tool}: {value.Step} {value.Done}"));
        }
    }

    /// <summary>A line of its own between progress lines (a warning, a phase that starts).</summary>
    public void Say(string text)
    {
        lock (_gate) _output.WriteLine($"{tool}: {text}");
    }
}
