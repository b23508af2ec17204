using System.Globalization;
using Edge.Core.Diagnostics;

namespace Edge.Cli;

/// <summary>
/// Progress for logs and pipes: "TOOL: STEP DONE/TOTAL (P%)" on standard error, at most one line per
/// <see cref="Interval"/>, and the end of a step whose progress was shown (standard output stays for
/// --json). Work shorter than an interval says nothing. Terminals may draw bars instead; the
/// producer does not know which.
/// </summary>
public sealed class ProgressLines(string tool, TextWriter? output = null, TimeProvider? clock = null) : IProgress<StepProgress>
{
    private readonly TextWriter _output = output ?? Console.Error;
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private string? _shown;
    private long? _lastLine;

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(2);

    public void Report(StepProgress value)
    {
        lock (_gate)
        {
            var now = _clock.GetTimestamp();
            _lastLine ??= now; // the interval counts from the first report
            var last = value.Total > 0 && value.Done >= value.Total;
            var due = _clock.GetElapsedTime(_lastLine.Value, now) >= Interval;
            if (!due && !(last && value.Step == _shown)) return;
            _shown = last ? null : value.Step;
            _lastLine = now;
            _output.WriteLine(value.Total > 0
                ? string.Create(CultureInfo.InvariantCulture, $"{tool}: {value.Step} {value.Done}/{value.Total} ({100.0 * value.Done / value.Total:0}%)")
                : string.Create(CultureInfo.InvariantCulture, $"{tool}: {value.Step} {value.Done}"));
        }
    }
}
