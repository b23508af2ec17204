using System.CommandLine;
using Edge.Cli;
using Edge.Daemon.Cli;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Edge.Daemon;

public static class Program
{
    public static int Main(string[] args)
    {
        Core.Inference.OnnxRuntimeTelemetry.Disable(); // before any ONNX Runtime code: nothing leaves the device
        using var logs = LoggerFactory.Create(b => b
            .SetMinimumLevel(LogLevel.Information)
            .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = null; })
            .AddFilter<ConsoleLoggerProvider>(null, LogLevel.Information)
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        return Run(args, logs);
    }

    public static int Run(string[] args, ILoggerFactory logs)
    {
        var root = new RootCommand("edged: on-device image classification with ONNX Runtime")
        {
            ClassifyCommand.Create(logs),
            InspectCommand.Create(),
            BenchCommand.Create(logs),
            RunCommand.Create(logs, new ForwardingLoggerProvider(logs)),
            RunCommand.CreateCheck(logs),
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            return Errors.Fail($"{string.Join("; ", parsed.Errors.Select(e => e.Message))} (see 'edged --help')", ExitCodes.Usage);
        }
        // No termination handler of System.CommandLine's own: it would end the process 2 s after SIGTERM,
        // in the middle of the host's shutdown (the store's last flush, GPIO pins going low). The host's
        // lifetime is the one owner of shutdown for `run`; other commands end the default way.
        return parsed.Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }

    /// <summary>
    /// Hands ASP.NET's loggers to edged's own factory, so everything logs in one format: one line per
    /// event, the exception's message but not its stack trace (unless EDGED_DEBUG=1).
    /// </summary>
    private sealed class ForwardingLoggerProvider(ILoggerFactory factory) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => Errors.Debug ? factory.CreateLogger(categoryName) : new OneLine(factory.CreateLogger(categoryName));
        public void Dispose() { }

        private sealed class OneLine(ILogger inner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);
            public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                inner.Log(logLevel, eventId, state, null, (s, _) => exception is null ? formatter(s, null) : $"{formatter(s, null)} ({exception.GetType().Name}: {exception.Message.ReplaceLineEndings(" ")})");
        }
    }

    /// <summary>edged's side of the one error scheme both tools share (<see cref="CommandGuard"/>).</summary>
    internal static CommandGuard Errors { get; } = new("edged");

    internal static Task<int> GuardAsync(Func<Task<int>> body) => Errors.RunAsync(body);

    internal static int Guard(Func<int> body) => Errors.Run(body);
}
