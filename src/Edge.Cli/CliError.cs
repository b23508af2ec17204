namespace Edge.Cli;

/// <summary>
/// A failure a command reports in the words of its own command line (a flag, a configuration key):
/// one line and a non-zero exit code. Layers below the tools throw their own <see cref="EdgeException"/>s.
/// </summary>
public sealed class CliError(string message, int exitCode = ExitCodes.Failure, Exception? inner = null) : EdgeException(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
