using System.Diagnostics;

namespace Edge.Daemon.Tests;

/// <summary>Runs the real edged CLI (the built edged.dll beside the tests) as a separate process.</summary>
internal static class Edged
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => RunIn(null, args);

    public static Result RunIn(string? workingDirectory, params string[] args) => RunWith(workingDirectory, null, args);

    public static Result RunWith(string? workingDirectory, IDictionary<string, string>? environment, params string[] args)
    {
        if (args.Any(a => a.Contains("ffmpeg", StringComparison.Ordinal))) Needs.Check(Needs.Ffmpeg);
        var dll = Path.Combine(AppContext.BaseDirectory, "edged.dll");
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var psi = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (environment is not null) foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            p.Kill(true);
            Assert.Fail("edged did not finish in 2 minutes");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
