namespace Edge.Cli;

/// <summary>
/// An <see cref="IProgress{T}"/> that reports on the caller's thread, one report at a time. .NET's
/// <see cref="Progress{T}"/> posts each report to the thread pool when there is no synchronization
/// context (a console tool): reports then race each other and arrive after the work has ended.
/// </summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    private readonly Lock _gate = new();

    public void Report(T value)
    {
        lock (_gate) report(value);
    }
}
