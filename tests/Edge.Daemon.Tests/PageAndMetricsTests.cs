using System.Diagnostics;

namespace Edge.Daemon.Tests;

/// <summary>Real clients: Prometheus' own linter for /metrics, headless Chromium for the live page.</summary>
[NonParallelizable]
public class PageAndMetricsTests
{
    private static (int Code, string Out, string Err) Run(string file, IEnumerable<string> args, string? stdin = null, int seconds = 60)
    {
        Needs.Check(file.EndsWith("promtool", StringComparison.Ordinal) ? Needs.Promtool : file.EndsWith("chromium", StringComparison.Ordinal) ? Needs.Chromium : file);
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin is not null) { p.StandardInput.Write(stdin); p.StandardInput.Close(); }
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(seconds))) { p.Kill(true); Assert.Fail($"{file} timed out"); }
        return (p.ExitCode, o.Result, e.Result);
    }

    [Category(Needs.Promtool)]
    [Test]
    public async Task MetricsPassPromtool()
    {
        Assert.That(File.Exists("/usr/bin/promtool"), Is.True, "promtool is missing: run tools/setup.sh");
        await using var d = new DaemonProcess(["--Store:Enabled=false"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await d.Client.GetStringAsync("metrics")).Contains("edged_frames_classified_total{camera=\"camera\"} 2"), "two classifications");
        var metrics = await d.Client.GetStringAsync("metrics");
        var r = Run("/usr/bin/promtool", ["check", "metrics"], metrics);
        Assert.That(r.Code, Is.Zero, r.Out + r.Err);
        Assert.That(metrics, Does.Contain("edged_inference_latency_seconds{camera=\"camera\",quantile=\"0.5\"}"));
    }

    private static string DumpDom(TempDir dir, string url)
    {
        var r = Run("/usr/bin/chromium", [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", $"--user-data-dir={dir.File("profile")}", "--virtual-time-budget=4000",
            "--dump-dom", url], seconds: 90);
        Assert.That(r.Code, Is.Zero, r.Err);
        return r.Out;
    }

    [Category(Needs.Chromium)]
    [Test]
    public async Task StringsFromAModelReachThePageAsTextNeverAsMarkup()
    {
        Assert.That(File.Exists("/usr/bin/chromium"), Is.True, "chromium is missing: run tools/setup.sh");
        using var dir = new TempDir();
        string[] labels = ["<img src=x onerror=\"document.title='pwned'\">", "</div><script>document.title='pwned2'</script>", "\"><svg onload=\"document.title='pwned3'\">", "<b>bold</b>"];
        var model = TestModels.Save(HostileModels.WithLabels(labels), dir.File("xss.onnx"));
        const string token = "a-token-of-20-chars!";
        await using var d = new DaemonProcess([$"--Model:Path={model}", "--Store:Enabled=false", $"--Http:Token={token}", "--Source:Kind=image",
            $"--Source:Path={Path.Combine(RepoPaths.Models, "samples", "sky.jpg")}"]);
        await d.WaitListeningAsync();
        using var authorized = new HttpRequestMessage(HttpMethod.Get, "api/status") { Headers = { Authorization = new("Bearer", token) } };
        await d.WaitUntilAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "api/status") { Headers = { Authorization = new("Bearer", token) } };
            return (await (await d.Client.SendAsync(request)).Content.ReadAsStringAsync()).Contains("\"latest\":{");
        }, "a result");

        // The page itself: its script and style are files (the CSP allows nothing inline), no handler attributes.
        var root = await d.Client.GetAsync("");
        var csp = root.Headers.GetValues("Content-Security-Policy").Single();
        Assert.That(csp, Does.Contain("script-src 'self'").And.Contain("default-src 'none'").And.Not.Contain("unsafe-inline"));
        var html = await root.Content.ReadAsStringAsync();
        Assert.That(System.Text.RegularExpressions.Regex.IsMatch(html, @"<script(?![^>]*\bsrc=)"), Is.False, "no inline script");
        Assert.That(System.Text.RegularExpressions.Regex.IsMatch(html, @"\son\w+="), Is.False, "no inline handlers");
        Assert.That(root.Headers.GetValues("X-Content-Type-Options").Single(), Is.EqualTo("nosniff"));

        var dom = DumpDom(dir, $"http://127.0.0.1:{d.Port}/#token={token}");
        Assert.That(dom, Does.Contain("<title>edged</title>"), "no script of the model's ran");
        Assert.That(dom, Does.Not.Contain("pwned").IgnoreCase.Or.Contain("&lt;img src=x onerror="));
        Assert.That(dom, Does.Contain("&lt;img src=x onerror=\"document.title='pwned'\"&gt;"), "the label is shown, as text");
        Assert.That(dom, Does.Contain("&lt;/div&gt;&lt;script&gt;"));
        Assert.That(dom, Does.Contain("&lt;b&gt;bold&lt;/b&gt;"));
        Assert.That(dom, Does.Not.Contain("<svg").And.Not.Contain("<b>bold").And.Not.Contain("<img src=\"x\""));
        Assert.That(dom, Does.Contain("class=\"bar\""), "the bars are there, with text in them");
        Assert.That(dom, Does.Not.Contain(token), "the token is not written into the page");

        var without = DumpDom(dir, $"http://127.0.0.1:{d.Port}/");
        Assert.That(without, Does.Contain("this edged needs its token"));
        Assert.That(without, Does.Match("<form id=\"login\">"), "the token form is shown");
    }

    [Category(Needs.Chromium)]
    [Test]
    public async Task TheLivePageShowsTheLatestResult()
    {
        Assert.That(File.Exists("/usr/bin/chromium"), Is.True, "chromium is missing: run tools/setup.sh");
        using var dir = new TempDir();
        // Only sky.jpg: the page must end up showing "blue" with its bar.
        await using var d = new DaemonProcess(["--Store:Enabled=false", $"--Source:Path={Path.Combine(RepoPaths.Models, "samples", "sky.jpg")}", "--Source:Kind=image"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await d.Client.GetStringAsync("api/status")).Contains("\"latest\":{"), "a result");
        var r = Run("/usr/bin/chromium", [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", $"--user-data-dir={dir.File("profile")}", "--virtual-time-budget=4000",
            "--dump-dom", $"http://127.0.0.1:{d.Port}/"], seconds: 90);
        Assert.That(r.Code, Is.Zero, r.Err);
        var dom = r.Out;
        Assert.That(dom, Does.Contain("<h2 id=\"label\">blue</h2>"), dom);
        Assert.That(dom, Does.Match("class=\"bar\" style=\"width: 9[0-9.]+%;\">blue 9[0-9.]+%"));
        Assert.That(dom, Does.Contain("<td id=\"health\" class=\"\">ok</td>"));
        Assert.That(dom, Does.Match("<img id=\"frame\" alt=\"latest frame\" src=\"blob:"));
        Assert.That(dom, Does.Contain("image: ").And.Contain("(Running)"));
        Assert.That(dom, Does.Contain("<p id=\"error\"></p>"), "no error shown");
    }

    [Category(Needs.Chromium), Category(Needs.Python), Category(Needs.Promtool)]
    [Test]
    public async Task EveryCameraIsOnThePageWhichFitsAPhoneScreen()
    {
        Assert.That(File.Exists("/usr/bin/chromium"), Is.True, "chromium is missing: run tools/setup.sh");
        using var dir = new TempDir();
        File.WriteAllText(dir.File("edged.json"), $$"""
            { "Cameras": [
                { "Name": "door", "Source": { "Kind": "image", "Path": "{{Path.Combine(RepoPaths.Models, "samples", "sky.jpg")}}" },
                  "Regions": [ { "Name": "latch", "X": 0.1, "Y": 0.2, "Width": 0.3, "Height": 0.3 } ] },
                { "Name": "bin", "Source": { "Kind": "image", "Path": "{{Path.Combine(RepoPaths.Models, "samples", "tomatoes.jpg")}}" } } ],
              "Store": { "Enabled": false } }
            """);
        await using var d = new DaemonProcess(["--config", dir.File("edged.json")]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await d.Client.GetStringAsync("metrics")).Contains("edged_frames_classified_total{camera=\"bin\"} 2"), "both cameras classifying");
        var metrics = await d.Client.GetStringAsync("metrics");
        var lint = Run("/usr/bin/promtool", ["check", "metrics"], metrics);
        Assert.That(lint.Code, Is.Zero, lint.Out + lint.Err);

        string[] browser = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", $"--user-data-dir={dir.File("profile")}", "--virtual-time-budget=4000", "--hide-scrollbars",
            "--window-size=360,1600", "--force-device-scale-factor=1"];
        var r = Run("/usr/bin/chromium", [.. browser, "--dump-dom", $"http://127.0.0.1:{d.Port}/"], seconds: 90);
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Out, Does.Contain("<h2 id=\"camera\">door</h2>"), r.Out);
        Assert.That(r.Out, Does.Contain("<h3>bin</h3>"), "the second camera has its card");
        Assert.That(r.Out, Does.Match("<div class=\"card\"><h3>bin</h3><p class=\"\">ok</p><div class=\"view\"><img alt=\"latest frame\" src=\"blob:"), "with its own frame");
        Assert.That(r.Out, Does.Contain("<td>latch</td>"), "the first camera's region");
        Assert.That(r.Out, Does.Contain("<td>frame</td><td>red</td>").Or.Contain("<td>frame</td><td>undecided</td>"), "the second camera's whole frame");

        // At a phone's width (360 CSS px) nothing is drawn in the page's right margin (so nothing is wider than the screen),
        // and the frame, a small image, is scaled up to the width of the page: checked on the pixels, with PIL.
        var png = dir.File("phone.png");
        r = Run("/usr/bin/chromium", [.. browser, $"--screenshot={png}", $"http://127.0.0.1:{d.Port}/"], seconds: 90);
        Assert.That(r.Code, Is.Zero, r.Err);
        var measured = Python.Run("""
            import sys
            from PIL import Image
            im = Image.open(sys.argv[1]).convert("RGB")
            w, h = im.size
            px = im.load()
            background = px[w - 1, h - 1]
            drawn = lambda c: max(abs(a - b) for a, b in zip(c, background)) > 24
            margin = sum(1 for y in range(h) for x in range(w - 12, w) if drawn(px[x, y]))
            def run(y):
                best = cur = 0
                for x in range(w):
                    cur = cur + 1 if drawn(px[x, y]) else 0
                    best = max(best, cur)
                return best
            print(w, margin, max(run(y) for y in range(h)))
            """, png).Trim().Split(' ');
        Assert.That(int.Parse(measured[0]), Is.EqualTo(360));
        Assert.That(int.Parse(measured[1]), Is.Zero, "pixels drawn in the right margin: something is wider than a phone's screen");
        Assert.That(int.Parse(measured[2]), Is.GreaterThanOrEqualTo(300), "the frame fills the page's width");
    }
}
