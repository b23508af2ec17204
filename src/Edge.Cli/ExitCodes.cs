namespace Edge.Cli;

/// <summary>The exit codes of both tools.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The command could not do its job (bad model, bad data, missing file).</summary>
    public const int Failure = 1;
    /// <summary>The command line is wrong (unknown option, bad value).</summary>
    public const int Usage = 2;
    /// <summary>The command ran, but some inputs failed (each one reported).</summary>
    public const int SomeInputsFailed = 3;
    /// <summary>Interrupted (Ctrl+C) before the command finished: 128 + SIGINT, as a shell reports it.</summary>
    public const int Cancelled = 130;
}
