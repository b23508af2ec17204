using System.CommandLine;
using Edge.Daemon.Cli;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Edge.Daemon;

public static class Program
{
    public static int Main(string[] args)
    {
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
            foreach (var e in parsed.Errors) Console.Error.WriteLine($"edged: {e.Message}");
            Console.Error.WriteLine("edged: see 'edged --help'");
            return ExitCodes.Usage;
        }
        return parsed.Invoke();
    }

    /// <summary>
    /// Hands ASP.NET's loggers to edged's own factory, so everything logs in one format: one line per
    /// event, the exception's message but not its stack trace (unless EDGED_DEBUG=1).
    /// </summary>
    private sealed class ForwardingLoggerProvider(ILoggerFactory factory) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => Debug ? factory.CreateLogger(categoryName) : new OneLine(factory.CreateLogger(categoryName));
        public void Dispose() { }

        private sealed class OneLine(ILogger inner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);
            public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                inner.Log(logLevel, eventId, state, null, (s, _) => exception is null ? formatter(s, null) : $"{formatter(s, null)} ({exception.GetType().Name}: {exception.Message.ReplaceLineEndings(" ")})");
        }
    }

    private static bool Debug => Environment.GetEnvironmentVariable("EDGED_DEBUG") == "1";

    /// <summary>Async form of <see cref="Guard"/>.</summary>
    internal static async Task<int> GuardAsync(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e) when (e is CliError or IOException or UnauthorizedAccessException or Core.Inference.ModelLoadException)
        {
            Console.Error.WriteLine($"edged: error: {e.Message}");
            return e is CliError c ? c.ExitCode : ExitCodes.Failure;
        }
        catch (Exception e) when (!Debug)
        {
            // A bug, not a user error: still one line, with the way to get the details.
            Console.Error.WriteLine($"edged: error: unexpected {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")} (set EDGED_DEBUG=1 for the stack trace)");
            return ExitCodes.Failure;
        }
    }

    /// <summary>Runs a command body, turning expected failures into one line on stderr and an exit code.</summary>
    internal static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (CliError e)
        {
            Console.Error.WriteLine($"edged: error: {e.Message}");
            return e.ExitCode;
        }
        catch (AggregateException e) when (e.InnerException is CliError c)
        {
            Console.Error.WriteLine($"edged: error: {c.Message}");
            return c.ExitCode;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Core.Inference.ModelLoadException
                                      or Core.Imaging.ImageDecodeException or Onnx.Model.OnnxFormatException)
        {
            Console.Error.WriteLine($"edged: error: {e.Message}");
            return ExitCodes.Failure;
        }
        catch (Exception e) when (!Debug)
        {
            // A bug, not a user error: still one line, with the way to get the details.
            Console.Error.WriteLine($"edged: error: unexpected {e.GetType().Name}: {e.Message} (set EDGED_DEBUG=1 for the stack trace)");
            return ExitCodes.Failure;
        }
    }
}
