namespace Edge.Daemon.Cli;

/// <summary>A failure that ends a command with a one-line reason and a non-zero exit code.</summary>
internal sealed class CliError(string message, int exitCode = ExitCodes.Failure) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

internal static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The command could not do its job (bad model, bad arguments, missing file).</summary>
    public const int Failure = 1;
    /// <summary>Usage error reported by the parser.</summary>
    public const int Usage = 2;
    /// <summary>The command ran, but some inputs failed (each one reported).</summary>
    public const int SomeInputsFailed = 3;
}
