namespace Edge.ModelPrep.Commands;

/// <summary>
/// Ctrl-C asks a long command to stop after its current step (what is done is kept). Unhooked when disposed:
/// the pipeline runs several commands in one process, and a stale handler would cancel a disposed source.
/// </summary>
internal sealed class CtrlC : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly ConsoleCancelEventHandler _handler;

    public CtrlC(ConsoleProgress progress, string message)
    {
        _handler = (_, e) =>
        {
            e.Cancel = true;
            _source.Cancel();
            progress.Message(message);
        };
        Console.CancelKeyPress += _handler;
    }

    public CancellationToken Token => _source.Token;

    public void Dispose()
    {
        Console.CancelKeyPress -= _handler;
        _source.Dispose();
    }
}
