using System.Globalization;
using Edge.Cli;
using Edge.Core.Diagnostics;
using Edge.ModelPrep.Training;
using Spectre.Console;

namespace Edge.ModelPrep.Commands;

/// <summary>
/// Training progress on standard error: a live Spectre bar (epoch, batch, loss, accuracy, images/s,
/// ETA) on a terminal, one line per epoch otherwise (logs, CI); steps outside epochs as
/// <see cref="ProgressLines"/>, like every other long task of both tools. Standard output stays for --json.
/// </summary>
internal sealed class ConsoleProgress : ITrainingProgress, IDisposable
{
    private readonly IAnsiConsole _console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
    private readonly bool _live;
    private readonly object _gate = new();
    private ProgressTask? _task;
    private Task? _runner;
    private TaskCompletionSource? _done;
    private readonly ProgressLines _steps = new("edge-prep");
    private int _epochs, _ended;
    private double _seconds;

    public ConsoleProgress(bool quiet = false)
    {
        _live = !quiet && _console.Profile.Capabilities.Interactive && !Console.IsErrorRedirected;
        // Redirected, Spectre would wrap at 80 columns, in the middle of a phrase: a log takes lines whole.
        if (!_live) _console.Profile.Width = 100_000;
        Quiet = quiet;
    }

    public bool Quiet { get; }

    public void Message(string text)
    {
        if (Quiet) return;
        lock (_gate) _console.MarkupLine($"[grey]{Markup.Escape(text)}[/]");
    }

    /// <summary>Steps before and between epochs (decoding images, ...): the lines both tools write.</summary>
    public void Report(StepProgress value)
    {
        if (!Quiet) _steps.Report(value);
    }

    public void EpochStarted(int epoch, int epochs, int batches)
    {
        _epochs = epochs;
        if (!_live) return;
        StopLive();
        _done = new TaskCompletionSource();
        var ready = new TaskCompletionSource();
        _runner = Task.Run(() => _console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn())
            .Start(ctx =>
            {
                _task = ctx.AddTask($"epoch {epoch}/{epochs}", maxValue: batches);
                ready.SetResult();
                _done.Task.Wait();
            }));
        ready.Task.Wait();
    }

    public void Step(int epoch, int batch, int batches, double loss, double accuracy, double imagesPerSecond, TimeSpan eta)
    {
        if (_task is null) return;
        _task.Description = string.Create(CultureInfo.InvariantCulture,
            $"epoch {epoch} batch {batch}/{batches} loss {loss:0.000} acc {accuracy:0.0}% {imagesPerSecond:0} img/s ETA {eta:hh\\:mm\\:ss}");
        _task.Value = batch;
    }

    public void EpochEnded(EpochMetrics m)
    {
        StopLive();
        if (Quiet) return;
        var val = m.ValAccuracy is { } v ? string.Create(CultureInfo.InvariantCulture, $" val loss {m.ValLoss:0.0000} val acc {v:0.00}%") : "";
        _seconds += m.Seconds;
        _ended++;
        // One estimate of what is left of the run (the live bar shows the same one while an epoch runs).
        var eta = _epochs > m.Epoch ? TimeSpan.FromSeconds(_seconds / _ended * (_epochs - m.Epoch)) : TimeSpan.Zero;
        lock (_gate)
            _console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"epoch {m.Epoch}/{Math.Max(_epochs, m.Epoch)}: loss {m.TrainLoss:0.0000} acc {m.TrainAccuracy:0.00}%{val} lr {m.LearningRate:0.#####} {m.ImagesPerSecond:0} img/s data wait {m.DataWaitFraction * 100:0.0}% ({m.Seconds:0}s){(eta > TimeSpan.Zero ? $", ETA {eta:hh\\:mm\\:ss}" : "")}")));
    }

    private void StopLive()
    {
        if (_runner is null) return;
        _done?.TrySetResult();
        _runner.Wait();
        (_runner, _task) = (null, null);
    }

    public void Dispose() => StopLive();
}
