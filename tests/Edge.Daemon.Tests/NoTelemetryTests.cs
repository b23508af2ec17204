namespace Edge.Daemon.Tests;

/// <summary>
/// ONNX Runtime's Linux build collects usage telemetry (a device id and an event database under
/// ~/.cache/Microsoft/DeveloperTools/.onnxruntime, then uploads) unless told not to: edged tells it.
/// </summary>
public class NoTelemetryTests
{
    [Test]
    public void ClassifyingWritesNothingUnderHome()
    {
        using var home = new TempDir();
        var psi = new System.Diagnostics.ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "edged.dll"), "classify", Path.Combine(RepoPaths.Models, "samples") }) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = home.Path;
        psi.Environment.Remove("XDG_CACHE_HOME");
        psi.Environment.Remove("ORT_DISABLE_TELEMETRY");
        using var p = System.Diagnostics.Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        Assert.That(p.WaitForExit(60_000), Is.True);
        Assert.That(p.ExitCode, Is.Zero, err.Result);
        Assert.That(output, Does.Contain("6 classified"));
        Assert.That(Directory.GetFileSystemEntries(home.Path, "*", SearchOption.AllDirectories), Is.Empty, "ONNX Runtime wrote under HOME");
    }
}
