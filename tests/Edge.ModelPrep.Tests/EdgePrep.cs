using System.Diagnostics;

namespace Edge.ModelPrep.Tests;

/// <summary>Runs the real edge-prep CLI (the edge-prep.dll beside the tests) as a process.</summary>
internal static class EdgePrep
{
    public static (int Code, string Out, string Err) Run(params string[] args) => Run(null, args);

    public static (int Code, string Out, string Err) Run(IDictionary<string, string>? env, params string[] args)
    {
        if (args.Length > 0 && args[0] is "train" or "distill") Needs.Check(Needs.Training);
        if (args.Any(a => a.StartsWith("fashion-mnist", StringComparison.Ordinal))) Needs.Check(Needs.FashionMnist);
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "edge-prep.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        // Generous: a training command that takes 2 minutes alone took over 5 on a busy 2-core CI machine.
        if (!p.WaitForExit(TimeSpan.FromMinutes(15)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"edge-prep {string.Join(' ', args)} did not finish in 15 minutes");
        }
        return (p.ExitCode, o.Result, e.Result);
    }
}
