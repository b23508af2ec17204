using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Edge.Daemon.Tests;

/// <summary>`edged run` end to end: real processes, ffmpeg as the camera, curl-like HTTP clients.</summary>
[NonParallelizable]
[Category(Needs.Ffmpeg)] // the fixture needs ffmpeg for every test
public class DaemonTests
{
    private const string Ffmpeg = "ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc=size=640x480:rate=15 -f mjpeg -q:v 5 -";

    private static async Task<JsonElement> Status(DaemonProcess d)
    {
        var json = await d.Client.GetStringAsync("api/status");
        return JsonDocument.Parse(json).RootElement.Clone();
    }

    [OneTimeSetUp]
    public void NeedFfmpeg()
    {
        if (!File.Exists("/usr/bin/ffmpeg")) Assert.Fail("ffmpeg is missing: run tools/setup.sh");
    }

    [Category(Needs.Ffmpeg), Category(Needs.Python)]
    [Test]
    public async Task FfmpegMjpegThroughAPipeEndsUpInSqliteAndTheStatusApi()
    {
        using var dir = new TempDir();
        var db = dir.File("results.db");
        await using var d = new DaemonProcess(["--Source:Kind=pipe", $"--Source:Command={Ffmpeg}", $"--Store:Path={db}", "--Trigger:MaxRate=5"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("frames_classified").GetInt64() >= 5, "5 classified frames");
        var s = await Status(d);
        Assert.That(s.GetProperty("source").GetProperty("state").GetString(), Is.EqualTo("Running"));
        Assert.That(s.GetProperty("source").GetProperty("description").GetString(), Does.StartWith("pipe: ffmpeg"));
        Assert.That(s.GetProperty("frames_captured").GetInt64(), Is.GreaterThan(s.GetProperty("frames_classified").GetInt64()),
            "15 fps captured, at most 5 classified per second");
        Assert.That(s.GetProperty("latest").GetProperty("top").GetArrayLength(), Is.EqualTo(5));
        Assert.That(s.GetProperty("latency_ms").GetProperty("p50").GetDouble(), Is.GreaterThan(0));

        var frame = await d.Client.GetByteArrayAsync("api/frame/latest.jpg");
        Assert.That(frame[..2], Is.EqualTo(new byte[] { 0xFF, 0xD8 }));
        var results = JsonDocument.Parse(await d.Client.GetStringAsync("api/results?limit=3")).RootElement;
        Assert.That(results.GetProperty("results").GetArrayLength(), Is.EqualTo(3));

        Assert.That(await d.StopAsync(), Is.Zero);
        // After a graceful stop every classified frame is in SQLite, read back by Python's sqlite3.
        var classified = (await Task.FromResult(d.Log)).Contains("frames classified");
        Assert.That(classified, Is.True, d.Log);
        var rows = int.Parse(Python.Run("""
            import sqlite3, sys, json
            c = sqlite3.connect(sys.argv[1])
            rows = c.execute("select top, trigger from results").fetchall()
            assert all(json.loads(t)[0]["label"] for t, _ in rows) and all(g == "continuous" for _, g in rows)
            print(len(rows))
            """, db).Trim());
        var said = System.Text.RegularExpressions.Regex.Match(d.Log, @"stopping: (\d+) frames classified");
        Assert.That(rows, Is.EqualTo(int.Parse(said.Groups[1].Value)));
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public async Task ASourceThatExitsIsReopened()
    {
        var command = "ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=size=160x120:rate=30 -frames:v 5 -f mjpeg -";
        await using var d = new DaemonProcess(["--Source:Kind=pipe", $"--Source:Command={command}", "--Store:Enabled=false"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("source").GetProperty("reconnects").GetInt64() >= 2, "two reconnects");
        Assert.That((await Status(d)).GetProperty("frames_captured").GetInt64(), Is.GreaterThanOrEqualTo(10));
        Assert.That(d.HasExited, Is.False);
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public async Task AMissingCameraIsRetriedAndReported()
    {
        await using var d = new DaemonProcess(["--Source:Kind=pipe", "--Source:Command=/nonexistent/camera-tool --mjpeg", "--Store:Enabled=false"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("source").GetProperty("reconnects").GetInt64() >= 3, "three retries");
        var source = (await Status(d)).GetProperty("source");
        Assert.That(source.GetProperty("state").GetString(), Is.EqualTo("Reconnecting"));
        Assert.That(source.GetProperty("last_error").GetString(), Does.Contain("exited with code 127"));
        // Said once, not once per retry.
        Assert.That(System.Text.RegularExpressions.Regex.Matches(d.Log, "exited with code 127").Count, Is.EqualTo(1), d.Log);
        Assert.That((await d.Client.GetStringAsync("metrics")), Does.Contain("edged_source_up{camera=\"camera\"} 0"));
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public async Task GarbageAndCorruptFramesAreSkippedCountedAndSaidOnce()
    {
        // Random bytes, then three "frames" that are JPEG markers around noise, then good frames.
        var command = "sh -c 'head -c 20000 /dev/urandom; " +
                      "for i in 1 2 3; do printf \"\\377\\330\\377\"; head -c 3000 /dev/urandom | tr -d \"\\377\"; printf \"\\377\\331\"; done; " +
                      Ffmpeg.Replace("'", "") + "'";
        await using var d = new DaemonProcess(["--Source:Kind=pipe", $"--Source:Command={command}", "--Store:Enabled=false", "--Trigger:MaxRate=100"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("frames_classified").GetInt64() >= 3, "good frames classified");
        var s = await Status(d);
        Assert.That(s.GetProperty("corrupt_frames").GetInt64(), Is.GreaterThanOrEqualTo(1));
        Assert.That(s.GetProperty("source").GetProperty("garbage_bytes").GetInt64(), Is.GreaterThan(10_000));
        Assert.That(System.Text.RegularExpressions.Regex.Matches(d.Log, "Skipping bad frames").Count, Is.EqualTo(1), d.Log);
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public async Task HttpTriggerModeClassifiesOnlyWhenAsked()
    {
        await using var d = new DaemonProcess(["--Trigger:Mode=http", "--Store:Enabled=false"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("frames_captured").GetInt64() >= 3, "frames captured");
        Assert.That((await Status(d)).GetProperty("frames_classified").GetInt64(), Is.Zero);
        var r = await d.Client.PostAsync("api/trigger", null);
        Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("frames_classified").GetInt64() == 1, "one classification");
        Assert.That((await Status(d)).GetProperty("latest").GetProperty("trigger").GetString(), Is.EqualTo("http"));
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public async Task UploadsAreClassifiedAndBadOnesRefused()
    {
        await using var d = new DaemonProcess(["--Http:MaxUploadBytes=100000", "--Store:Enabled=false"]);
        await d.WaitListeningAsync();
        var sky = File.ReadAllBytes(Path.Combine(RepoPaths.Models, "samples", "sky.jpg"));
        var ok = await d.Client.PostAsync("api/classify", new ByteArrayContent(sky));
        Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(JsonDocument.Parse(await ok.Content.ReadAsStringAsync()).RootElement.GetProperty("top")[0].GetProperty("label").GetString(), Is.EqualTo("blue"));
        var bad = await d.Client.PostAsync("api/classify", new ByteArrayContent(Encoding.ASCII.GetBytes("not an image")));
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var big = await d.Client.PostAsync("api/classify", new ByteArrayContent(new byte[200_000]));
        Assert.That(big.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        var badQuery = await d.Client.GetAsync("api/results?since=yesterday-ish");
        Assert.That(badQuery.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(d.HasExited, Is.False);
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public async Task ATokenProtectsTheApi()
    {
        await using var d = new DaemonProcess(["--Http:Token=s3cret", "--Store:Enabled=false"]);
        await d.WaitListeningAsync();
        Assert.That((await d.Client.GetAsync("api/status")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "api/status") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "guess") } };
        Assert.That((await d.Client.SendAsync(wrong)).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using var right = new HttpRequestMessage(HttpMethod.Get, "api/status") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "s3cret") } };
        Assert.That((await d.Client.SendAsync(right)).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public void ANonLoopbackAddressWithoutATokenIsRefusedAtStart()
    {
        var r = Edged.Run("run", "--Http:Url=http://0.0.0.0:8781");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr, Does.Contain("Http:Token: is required when Http:Url listens beyond this machine (http://0.0.0.0:8781)"));
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public void BadConfigurationNamesTheKey()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("edged.json"), """{ "Source": { "Kind": "pipe", "Fps": "fast" } }""");
        var r = Edged.Run("check", "--config", dir.File("edged.json"));
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr, Does.Contain("Source:Fps"));
        File.WriteAllText(dir.File("edged.json"), """{ "Source": { "Kind": "pipe" }, "Trigger": { "MaxRate": 0 } }""");
        r = Edged.Run("check", "--config", dir.File("edged.json"));
        Assert.That(r.Stderr, Does.Contain("Source:Command: is required").And.Contain("Trigger:MaxRate: must be in (0, 1000]"));
        File.WriteAllText(dir.File("edged.json"), """{ "Sorce": { } }""");
        r = Edged.Run("check", "--config", dir.File("edged.json"));
        Assert.That(r.Stderr, Does.Contain("Sorce"));
        File.WriteAllText(dir.File("edged.json"), """{ "Source": """);
        r = Edged.Run("check", "--config", dir.File("edged.json"));
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr, Does.Contain("not valid JSON"));
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public void CheckValidatesModelAndCamera()
    {
        var ok = Edged.Run("check", "--Source:Kind=pipe", $"--Source:Command={Ffmpeg}");
        Assert.That(ok.ExitCode, Is.Zero, ok.Stderr);
        Assert.That(ok.Stdout, Does.Contain("config: ok").And.Contain("model:").And.Contain("source: pipe: ffmpeg").And.Contain("first frame"));
        var bad = Edged.Run("check", "--Source:Kind=pipe", "--Source:Command=false");
        Assert.That(bad.ExitCode, Is.EqualTo(1));
        Assert.That(bad.Stderr, Does.Contain("exited with code 1"));
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public async Task AReadOnlyStoreDoesNotStopTheDaemon()
    {
        using var dir = new TempDir();
        var ro = Directory.CreateDirectory(dir.File("ro")).FullName;
        File.SetUnixFileMode(ro, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        await using var d = new DaemonProcess([$"--Store:Path={ro}/sub/results.db"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("frames_classified").GetInt64() >= 2, "classification without a store");
        File.SetUnixFileMode(ro, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (Environment.UserName != "root") Assert.That(d.Log, Does.Contain("running without recording results"));
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public async Task SystemdHearsReadyWatchdogAndStopping()
    {
        using var dir = new TempDir();
        var path = dir.File("notify.sock");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        var messages = new List<string>();
        var listening = Task.Run(() =>
        {
            var buffer = new byte[4096];
            socket.ReceiveTimeout = 20_000;
            try
            {
                while (true)
                {
                    var n = socket.Receive(buffer);
                    var m = Encoding.UTF8.GetString(buffer, 0, n);
                    lock (messages) messages.Add(m);
                    if (m.Contains("STOPPING=1")) return;
                }
            }
            catch (SocketException) { }
        });
        await using var d = new DaemonProcess(["--Store:Enabled=false"],
            new Dictionary<string, string> { ["NOTIFY_SOCKET"] = path, ["WATCHDOG_USEC"] = "400000" });
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(() => { lock (messages) return Task.FromResult(messages.Count(m => m == "WATCHDOG=1") >= 2); }, "two watchdog pings");
        Assert.That(await d.StopAsync(), Is.Zero);
        await listening;
        lock (messages)
        {
            Assert.That(messages[0], Does.StartWith("READY=1"));
            Assert.That(messages, Has.Some.EqualTo("WATCHDOG=1"));
            Assert.That(messages[^1], Is.EqualTo("STOPPING=1"));
        }
    }
}
