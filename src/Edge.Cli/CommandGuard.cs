using Edge.Core.Inference;
using Microsoft.ML.OnnxRuntime;

namespace Edge.Cli;

/// <summary>
/// How both tools end a command that failed: one line on standard error, "TOOL: error: REASON", and
/// an exit code. A user's mistake (<see cref="EdgeException"/>, a file that cannot be read) is said
/// as it is; anything else is a bug and is still one line, with the variable that shows the stack.
/// </summary>
public sealed class CommandGuard(string tool, TextWriter? error = null)
{
    private readonly TextWriter _error = error ?? Console.Error;

    public string Tool { get; } = tool;

    /// <summary>The variable that asks for stack traces: EDGED_DEBUG for edged, EDGE_PREP_DEBUG for edge-prep.</summary>
    public string DebugVariable => Tool.ToUpperInvariant().Replace('-', '_') + "_DEBUG";

    public bool Debug => Environment.GetEnvironmentVariable(DebugVariable) == "1";

    public int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (Describe(e) is { } failure)
        {
            return Report(failure);
        }
    }

    public async Task<int> RunAsync(Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (Exception e) when (Describe(e) is { } failure)
        {
            return Report(failure);
        }
    }

    /// <summary>Writes a one-line failure and returns <see cref="ExitCodes.Failure"/> (or the error's own code).</summary>
    public int Fail(string reason, int exitCode = ExitCodes.Failure)
    {
        _error.WriteLine($"{Tool}: error: {OneLine(reason)}");
        return exitCode;
    }

    private int Report((string Reason, int ExitCode) failure) => Fail(failure.Reason, failure.ExitCode);

    /// <summary>The line and exit code for <paramref name="e"/>, or null to let it through (debugging).</summary>
    private (string Reason, int ExitCode)? Describe(Exception e)
    {
        if (e is AggregateException { InnerExceptions.Count: 1 } a) e = a.InnerExceptions[0];
        return e switch
        {
            CliError c => (c.Message, c.ExitCode),
            // Ctrl+C while a command works: said as what it is, with the shell's code for SIGINT.
            OperationCanceledException => ("cancelled", ExitCodes.Cancelled),
            EdgeException or IOException or UnauthorizedAccessException => (e.Message, ExitCodes.Failure),
            _ when Debug => null,
            OnnxRuntimeException => ($"ONNX Runtime: {Classifier.OneLine(e.Message)} (set {DebugVariable}=1 for the stack trace)", ExitCodes.Failure),
            _ => ($"unexpected {e.GetType().Name}: {e.Message} (set {DebugVariable}=1 for the stack trace)", ExitCodes.Failure),
        };
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
