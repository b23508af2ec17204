using System.Diagnostics;

namespace Edge.Daemon.Tests;

/// <summary>Real clients: Prometheus' own linter for /metrics, headless Chromium for the live page.</summary>
[NonParallelizable]
public class PageAndMetricsTests
{
    private static (int Code, string Out, string Err) Run(string file, IEnumerable<string> args, string? stdin = null, int seconds = 60)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin is not null) { p.StandardInput.Write(stdin); p.StandardInput.Close(); }
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(seconds))) { p.Kill(true); Assert.Fail($"{file} timed out"); }
        return (p.ExitCode, o.Result, e.Result);
    }

    [Test]
    public async Task MetricsPassPromtool()
    {
        Assert.That(File.Exists("/usr/bin/promtool"), Is.True, "promtool is missing: run tools/setup.sh");
        await using var d = new DaemonProcess(["--Store:Path=/dev/null/none.db"]);
        await d.WaitHealthyAsync();
        await d.WaitUntilAsync(async () => (await d.Client.GetStringAsync("metrics")).Contains("edged_frames_classified_total 2"), "two classifications");
        var metrics = await d.Client.GetStringAsync("metrics");
        var r = Run("/usr/bin/promtool", ["check", "metrics"], metrics);
        Assert.That(r.Code, Is.Zero, r.Out + r.Err);
        Assert.That(metrics, Does.Contain("edged_inference_latency_seconds{quantile=\"0.5\"}"));
    }

    [Test]
    public async Task TheLivePageShowsTheLatestResult()
    {
        Assert.That(File.Exists("/usr/bin/chromium"), Is.True, "chromium is missing: run tools/setup.sh");
        using var dir = new TempDir();
        // Only sky.jpg: the page must end up showing "blue" with its bar.
        await using var d = new DaemonProcess(["--Store:Path=/dev/null/none.db", $"--Source:Path={Path.Combine(RepoPaths.Models, "samples", "sky.jpg")}", "--Source:Kind=image"]);
        await d.WaitHealthyAsync();
        await d.WaitUntilAsync(async () => (await d.Client.GetStringAsync("api/status")).Contains("\"latest\":{"), "a result");
        var r = Run("/usr/bin/chromium", [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", $"--user-data-dir={dir.File("profile")}", "--virtual-time-budget=4000",
            "--dump-dom", $"http://127.0.0.1:{d.Port}/"], seconds: 90);
        Assert.That(r.Code, Is.Zero, r.Err);
        var dom = r.Out;
        Assert.That(dom, Does.Contain("<h2 id=\"label\">blue</h2>"), dom);
        Assert.That(dom, Does.Match("class=\"bar\" style=\"width:9[0-9.]+%\">blue 9[0-9.]+%"));
        Assert.That(dom, Does.Match("<img id=\"frame\" alt=\"latest frame\" src=\"blob:"));
        Assert.That(dom, Does.Contain("image: ").And.Contain("(Running)"));
        Assert.That(dom, Does.Contain("<p id=\"error\"></p>"), "no error shown");
    }
}
