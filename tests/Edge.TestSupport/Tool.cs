using System.Diagnostics;
using NUnit.Framework;

namespace Edge.TestSupport;

/// <summary>An external program's run: exit code and both outputs.</summary>
public sealed record ToolRun(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;
}

/// <summary>Runs external tools (systemd-analyze, dpkg, lintian, chroot) with a time limit.</summary>
public static class Tool
{
    public static ToolRun Run(string file, IEnumerable<string> args, TimeSpan? timeout = null, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var limit = timeout ?? TimeSpan.FromMinutes(5);
        if (!p.WaitForExit(limit))
        {
            p.Kill(true);
            Assert.Fail($"{file} {string.Join(' ', args)} did not finish in {limit}");
        }
        p.WaitForExit();
        return new ToolRun(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs and asserts exit code 0; returns stdout.</summary>
    public static string Ok(string file, params string[] args)
    {
        var r = Run(file, args);
        Assert.That(r.ExitCode, Is.Zero, $"{file} {string.Join(' ', args)}:\n{r.Output}");
        return r.Stdout;
    }
}
