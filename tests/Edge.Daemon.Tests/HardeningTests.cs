using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Edge.Daemon.Tests;

/// <summary>
/// The daemon under abuse, as real processes: models that fail or produce NaN once frames arrive,
/// stores that cannot open, folders with FIFOs, listeners nobody asked for, floods of stderr and
/// uploads. Each failure must be counted, said once, visible in /healthz and the status, and survived.
/// </summary>
[NonParallelizable]
public class HardeningTests
{
    private static string Samples(string name) => Path.Combine(RepoPaths.Models, "samples", name);

    private static async Task<JsonElement> Status(DaemonProcess d) => JsonDocument.Parse(await d.Client.GetStringAsync("api/status")).RootElement.Clone();

    /// <summary>A /proc/PID/status field in MiB (VmRSS now, VmHWM the peak).</summary>
    internal static double Memory(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(Regex.Match(line, @"\d+").Value) / 1024.0;
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static bool Listening(IPAddress address, int port)
    {
        using var c = new TcpClient();
        try { c.Connect(address, port); return true; }
        catch (SocketException) { return false; }
    }

    private static void NoStackTrace(string log) => Assert.That(Regex.IsMatch(log, @"^\s+at \S+\(", RegexOptions.Multiline), Is.False, log);

    [Test]
    public async Task AModelThatFailsOnEveryFrameIsCountedSaidOnceMadeUnhealthyAndStarvesTheWatchdog()
    {
        using var dir = new TempDir();
        var model = TestModels.Save(HostileModels.WrongWidthOnBrightImages(), dir.File("wrong.onnx"));
        var socketPath = dir.File("notify.sock");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        var messages = new List<(DateTime At, string Text)>();
        var listening = Task.Run(() =>
        {
            var buffer = new byte[4096];
            socket.ReceiveTimeout = 30_000;
            try
            {
                while (true)
                {
                    var m = Encoding.UTF8.GetString(buffer, 0, socket.Receive(buffer));
                    lock (messages) messages.Add((DateTime.UtcNow, m));
                    if (m.Contains("STOPPING=1")) return;
                }
            }
            catch (SocketException) { }
        });
        await using var d = new DaemonProcess([$"--Model:Path={model}", "--Source:Kind=image", $"--Source:Path={Samples("snow.jpg")}", "--Source:Fps=30",
            "--Trigger:MaxRate=30", "--Store:Enabled=false"], new Dictionary<string, string> { ["NOTIFY_SOCKET"] = socketPath, ["WATCHDOG_USEC"] = "400000" });
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("inference_errors").GetInt64() >= 10, "failed classifications");
        var s = await Status(d);
        Assert.That(s.GetProperty("frames_classified").GetInt64(), Is.Zero);
        Assert.That(s.GetProperty("last_inference_error").GetString(), Does.StartWith("ONNX Runtime failed"));
        Assert.That(s.GetProperty("health").GetProperty("ok").GetBoolean(), Is.False);
        var (code, body) = await d.HealthAsync();
        Assert.That(code, Is.EqualTo(503));
        Assert.That(body, Does.StartWith("inference: the last"));
        Assert.That(Regex.Matches(d.Log, "Classification failed").Count, Is.EqualTo(1), d.Log);

        // systemd hears what is wrong, and the watchdog is no longer fed (so it restarts the daemon).
        await d.WaitUntilAsync(() => { lock (messages) return Task.FromResult(messages.Any(m => m.Text.StartsWith("STATUS=inference:", StringComparison.Ordinal))); }, "the status line");
        int Pings() { lock (messages) return messages.Count(m => m.Text == "WATCHDOG=1"); }
        var before = Pings();
        await Task.Delay(1500); // more than three watchdog intervals of 200 ms
        Assert.That(Pings(), Is.EqualTo(before), "no WATCHDOG=1 while classification fails");
        Assert.That(d.Log, Does.Contain("Not feeding the systemd watchdog: inference: the last"));
        Assert.That(await d.StopAsync(), Is.Zero);
        await listening;
        NoStackTrace(d.Log);
    }

    [Test]
    public void AModelThatCannotRunIsRefusedAtStartByRunAndByCheck()
    {
        using var dir = new TempDir();
        var model = TestModels.Save(HostileModels.AlwaysWrongWidth(), dir.File("wrong.onnx"));
        foreach (var command in new[] { "run", "check" })
        {
            var r = Edged.Run(command, $"--Model:Path={model}", "--Store:Enabled=false", "--Http:Url=http://127.0.0.1:" + FreePort());
            Assert.That(r.ExitCode, Is.EqualTo(1), r.Stderr);
            Assert.That(r.Stderr.Trim().Split('\n'), Has.Length.EqualTo(1), r.Stderr);
            Assert.That(r.Stderr, Does.StartWith("edged: error: Model:Path: ").And.Contain("cannot run"));
        }
        // check also runs the model on a real frame: this one loads, then fails on what the camera sends.
        var late = TestModels.Save(HostileModels.WrongWidthOnBrightImages(), dir.File("late.onnx"));
        var c = Edged.Run("check", $"--Model:Path={late}", "--Source:Kind=image", $"--Source:Path={Samples("snow.jpg")}");
        Assert.That(c.ExitCode, Is.EqualTo(1), c.Stdout + c.Stderr);
        Assert.That(c.Stderr, Does.Contain("the model fails on a frame from image:"));
    }

    [Test]
    public async Task NaNScoresAreCountedAsErrorsAndNeverBreakTheApiTheStoreOrTheJson()
    {
        using var dir = new TempDir();
        var model = TestModels.Save(HostileModels.NaNOnBrightImages(), dir.File("nan.onnx"));
        File.Copy(Samples("snow.jpg"), dir.File("1-snow.jpg"));
        var black = TestImages.SolidJpeg(64, 48, 0, 0, 0); // mean input 0: the one kind of image this model scores
        File.WriteAllBytes(dir.File("2-black.jpg"), black);
        var frames = Directory.CreateDirectory(dir.File("frames")).FullName;
        File.Copy(Samples("snow.jpg"), Path.Combine(frames, "1.jpg"));
        File.WriteAllBytes(Path.Combine(frames, "2.jpg"), black);
        await using var d = new DaemonProcess([$"--Model:Path={model}", $"--Source:Path={frames}", "--Source:Fps=20", "--Trigger:MaxRate=20",
            $"--Store:Path={dir.File("r.db")}"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () =>
        {
            var s = await Status(d);
            return s.GetProperty("inference_errors").GetInt64() >= 3 && s.GetProperty("frames_classified").GetInt64() >= 3;
        }, "NaN frames counted and good frames classified");
        var status = await Status(d);
        Assert.That(status.GetProperty("last_inference_error").GetString(), Does.Contain("non-finite scores"));
        Assert.That(status.GetProperty("latest").GetProperty("top")[0].GetProperty("score").GetDouble(), Is.GreaterThan(0), "only finite results are shown");
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("store").GetProperty("written").GetInt64() >= 3, "the store writer goes on");
        var results = JsonDocument.Parse(await d.Client.GetStringAsync("api/results?limit=100")).RootElement.GetProperty("results");
        Assert.That(results.EnumerateArray().All(r => r.GetProperty("top")[0].GetProperty("score").ValueKind == JsonValueKind.Number), Is.True);
        var bad = await d.Client.PostAsync("api/classify", new ByteArrayContent(File.ReadAllBytes(Samples("snow.jpg"))));
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError));
        Assert.That(await bad.Content.ReadAsStringAsync(), Does.Contain("non-finite scores"));
        var good = await d.Client.PostAsync("api/classify", new ByteArrayContent(black));
        Assert.That(good.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await d.StopAsync(), Is.Zero);

        var r = Edged.Run("classify", "--model", model, "--json", dir.File("1-snow.jpg"), dir.File("2-black.jpg"));
        Assert.That(r.ExitCode, Is.EqualTo(3), r.Stderr);
        var json = JsonDocument.Parse(r.Stdout).RootElement.GetProperty("results");
        Assert.That(json[0].GetProperty("ok").GetBoolean(), Is.False);
        Assert.That(json[0].GetProperty("error").GetString(), Does.Contain("non-finite"));
        Assert.That(json[1].GetProperty("ok").GetBoolean(), Is.True, "the other image of the same batch is fine");
    }

    [Test]
    public async Task AStoreThatCannotBeOpenedIsReportedRetriedAndUsedOnceFixed()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("results.db"), "this is not a database, it is a garbage file of some length............................................");
        await using var d = new DaemonProcess([$"--Store:Path={dir.File("results.db")}", "--Source:Fps=20", "--Trigger:MaxRate=20"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("store").GetProperty("error").ValueKind == JsonValueKind.String, "the store error");
        var store = (await Status(d)).GetProperty("store");
        Assert.That(store.GetProperty("error").GetString(), Does.Contain("not a SQLite database"));
        Assert.That(store.GetProperty("open").GetBoolean(), Is.False);
        var (code, body) = await d.HealthAsync();
        Assert.That(code, Is.EqualTo(503));
        Assert.That(body, Does.Contain("store: cannot open the results database"));
        Assert.That((await d.Client.GetAsync("api/results")).StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That((await Status(d)).GetProperty("frames_classified").GetInt64(), Is.GreaterThan(0), "classification goes on meanwhile");

        File.Delete(dir.File("results.db"));
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("store").GetProperty("open").GetBoolean(), "the store to open", seconds: 60);
        await d.WaitUntilAsync(async () => (await d.HealthAsync()).Status == 200, "health to return");
        var rows = JsonDocument.Parse(await d.Client.GetStringAsync("api/results?limit=10000")).RootElement.GetProperty("results").GetArrayLength();
        Assert.That(rows, Is.GreaterThan(5), "what waited in memory was written");
        Assert.That(Regex.Matches(d.Log, "not a SQLite database").Count, Is.EqualTo(1), d.Log);
    }

    [Test]
    public async Task AWatchedFolderIsNotReadAgainAfterQuietSpellsAndAFifoInItBlocksNothing()
    {
        using var dir = new TempDir();
        File.Copy(Samples("sky.jpg"), dir.File("1.jpg"));
        File.Copy(Samples("night.jpg"), dir.File("2.jpg"));
        Assert.That(System.Diagnostics.Process.Start("mkfifo", [dir.File("3.jpg")])!.WaitForExit(5000), Is.True);
        await using var d = new DaemonProcess([$"--Source:Path={dir.Path}", "--Source:Loop=false", "--Source:ProcessExisting=true", "--Source:NoFrameTimeoutMs=200",
            "--Source:StableMs=100", "--Trigger:MaxRate=100", "--Store:Enabled=false"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("frames_classified").GetInt64() == 2, "the two images");
        await Task.Delay(2000); // ten no-frame timeouts' worth of quiet
        var s = await Status(d);
        Assert.That(s.GetProperty("frames_captured").GetInt64(), Is.EqualTo(2), "no file read twice");
        Assert.That(s.GetProperty("source").GetProperty("reconnects").GetInt64(), Is.Zero, "a quiet folder is not a failure");
        Assert.That((await d.HealthAsync()).Status, Is.EqualTo(200));
        Assert.That(Regex.Matches(d.Log, "FIFO").Count, Is.EqualTo(1), d.Log);
        File.Copy(Samples("snow.jpg"), dir.File("4.jpg"));
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("frames_classified").GetInt64() == 3, "the new image");
        Assert.That((await Status(d)).GetProperty("latest").GetProperty("top")[0].GetProperty("label").GetString(), Is.EqualTo("white"));
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        Assert.That(await d.StopAsync(), Is.Zero);
        Assert.That(stopping.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "SIGTERM is not blocked by the FIFO");
    }

    [Test]
    public async Task HttpUrlNeverOpensAnUnauthenticatedListenerBeyondLoopback()
    {
        var (p, q, r) = (FreePort(), FreePort(), FreePort());
        var refused = Edged.Run("run", $"--Http:Url=http://127.0.0.1:{p}/;http://0.0.0.0:{q}", "--Store:Enabled=false");
        Assert.That(refused.ExitCode, Is.EqualTo(1));
        Assert.That(refused.Stderr.Trim(), Is.EqualTo($"edged: error: config: Http:Token: is required when Http:Url listens beyond this machine (http://0.0.0.0:{q})"));
        var weak = Edged.Run("run", $"--Http:Url=http://[::ffff:0.0.0.0]:{q}", "--Http:Token=short", "--Store:Enabled=false");
        Assert.That(weak.Stderr, Does.Contain("Http:Token: must be at least 16 characters"));

        const string token = "0123456789abcdef0123";
        await using (var d = new DaemonProcess([$"--Http:Url=http://127.0.0.1:{p}/;http://0.0.0.0:{q}", $"--Http:Token={token}", "--Store:Enabled=false"],
                         new Dictionary<string, string> { ["ASPNETCORE_URLS"] = $"http://0.0.0.0:{r}", ["URLS"] = $"http://0.0.0.0:{r}" }))
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{q}/") };
            for (var i = 0; i < 100 && !Listening(IPAddress.Loopback, q); i++) await Task.Delay(200);
            Assert.That((await client.GetAsync("api/status")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "the second endpoint wants the token too");
            using var request = new HttpRequestMessage(HttpMethod.Get, "api/status") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) } };
            Assert.That((await client.SendAsync(request)).StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(Listening(IPAddress.Loopback, r), Is.False, "ASPNETCORE_URLS adds no listener");
        }

        await using (var mapped = new DaemonProcess([$"--Http:Url=http://[::ffff:127.0.0.1]:{r}", "--Store:Enabled=false"]))
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{r}/") };
            for (var i = 0; i < 100 && !Listening(IPAddress.Loopback, r); i++) await Task.Delay(200);
            Assert.That((await client.GetAsync("api/status")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "an IPv4-mapped loopback address is loopback");
        }

        var path = Edged.Run("run", $"--Http:Url=http://127.0.0.1:{p}/edged");
        Assert.That(path.Stderr.Trim(), Is.EqualTo($"edged: error: config: Http:Url: 'http://127.0.0.1:{p}/edged' has a path or query ('/edged'); edged serves at the root: give only http://IP:PORT"));
    }

    [Test]
    public void APortInUseIsOneLineWithoutAnExceptionDump()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var r = Edged.Run("run", $"--Http:Url=http://127.0.0.1:{port}", "--Store:Enabled=false");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        var lines = (r.Stdout + r.Stderr).Trim().Split('\n').Where(l => !l.StartsWith("info:", StringComparison.Ordinal)).ToList();
        Assert.That(lines, Has.Count.EqualTo(1), r.Stdout + r.Stderr);
        Assert.That(lines[0], Does.StartWith($"edged: error: Http:Url: cannot listen on http://127.0.0.1:{port}: ").And.Contain("address already in use").IgnoreCase);
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public async Task AStderrFloodWithoutNewlinesDoesNotGrowTheDaemon()
    {
        var command = "sh -c \"head -c 400000000 /dev/zero | tr '\\000' x >&2; exec ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=size=160x120:rate=10 -f mjpeg -\"";
        await using var d = new DaemonProcess(["--Source:Kind=pipe", $"--Source:Command={command}", "--Store:Enabled=false", "--Source:NoFrameTimeoutMs=60000"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("frames_classified").GetInt64() >= 2, "frames after 400 MB of stderr", seconds: 90);
        var peak = Memory(d.Pid, "VmHWM");
        TestContext.Out.WriteLine($"peak RSS after 400 MB of stderr without a newline: {peak:0.0} MiB");
        Assert.That(peak, Is.LessThan(400), "the stderr tail is bounded (it grew to gigabytes)");
    }

    [Category(Needs.Python)]
    [Test]
    public async Task UploadsAreBoundedInPixelsQueueAndMemoryAndTheCameraGoesOn()
    {
        using var dir = new TempDir();
        Python.Run("""
            import sys
            from PIL import Image
            Image.new("RGB", (8000, 5000), (200, 30, 30)).save(sys.argv[1] + "/40mp.png")
            Image.new("RGB", (5000, 4000), (30, 30, 200)).save(sys.argv[1] + "/20mp.png")
            """, dir.Path);
        var huge = File.ReadAllBytes(dir.File("40mp.png"));
        var big = File.ReadAllBytes(dir.File("20mp.png"));
        Assert.That(huge.Length, Is.LessThan(200_000), "a small file that decodes to 160 MB");
        await using var d = new DaemonProcess(["--Store:Enabled=false", "--Http:MaxQueuedUploads=1", "--Source:Fps=30", "--Trigger:MaxRate=30"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("frames_classified").GetInt64() >= 5, "the camera");

        var tooMany = await d.Client.PostAsync("api/classify", new ByteArrayContent(huge));
        Assert.That(tooMany.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        Assert.That(await tooMany.Content.ReadAsStringAsync(), Does.Contain("over the limit of 24 megapixels"));

        var rssBefore = Memory(d.Pid, "VmRSS");
        var one = await d.Client.PostAsync("api/classify", new ByteArrayContent(big));
        Assert.That(one.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(JsonDocument.Parse(await one.Content.ReadAsStringAsync()).RootElement.GetProperty("top")[0].GetProperty("label").GetString(), Is.EqualTo("blue"));
        var rssAfter = Memory(d.Pid, "VmRSS");
        TestContext.Out.WriteLine($"RSS before a 20 MP upload {rssBefore:0.0} MiB, after {rssAfter:0.0} MiB, peak {Memory(d.Pid, "VmHWM"):0.0} MiB");
        Assert.That(rssAfter - rssBefore, Is.LessThan(40), "the 80 MB decode buffer is released after the upload");

        // Eight at once against a queue of one: some are told to come back, none fail otherwise; the camera goes on.
        var classifiedBefore = (await Status(d)).GetProperty("frames_classified").GetInt64();
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => d.Client.PostAsync("api/classify", new ByteArrayContent(big))));
        var codes = answers.Select(a => (int)a.StatusCode).ToList();
        Assert.That(codes, Has.All.AnyOf(200, 503), string.Join(",", codes));
        Assert.That(codes, Has.Some.EqualTo(503));
        Assert.That(codes, Has.Some.EqualTo(200));
        Assert.That(answers.First(a => a.StatusCode == HttpStatusCode.ServiceUnavailable).Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(1)));
        var uploads = (await Status(d)).GetProperty("uploads");
        Assert.That(uploads.GetProperty("rejected").GetInt64(), Is.EqualTo(codes.Count(c => c == 503)));
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("frames_classified").GetInt64() > classifiedBefore + 5, "camera frames classified around the uploads");
    }

    [Test]
    public async Task CorruptFrameKindsThatAlternateAreEachSaidOnce()
    {
        using var dir = new TempDir();
        var good = File.ReadAllBytes(Samples("sky.jpg"));
        var sos = 0;
        for (var i = 2; i + 3 < good.Length; i++)
            if (good[i] == 0xFF && good[i + 1] == 0xDA) { sos = i + 2 + ((good[i + 2] << 8) | good[i + 3]); break; }
        var truncated = good[..(sos + (good.Length - sos) / 2)].Concat(new byte[] { 0xFF, 0xD9 }).ToArray();
        // The other kind: a frame whose header claims 10000x10000 pixels (over the pixel budget).
        var badCode = (byte[])good.Clone();
        for (var i = 2; i + 8 < badCode.Length; i++)
            if (badCode[i] == 0xFF && badCode[i + 1] == 0xC0) { (badCode[i + 5], badCode[i + 6], badCode[i + 7], badCode[i + 8]) = (0x27, 0x10, 0x27, 0x10); break; }
        using (var stream = File.Create(dir.File("stream.mjpeg")))
            for (var i = 0; i < 20; i++) { stream.Write(truncated); stream.Write(badCode); }
        var command = $"sh -c \"while true; do cat '{dir.File("stream.mjpeg")}'; sleep 0.2; done\"";
        await using var d = new DaemonProcess(["--Source:Kind=pipe", $"--Source:Command={command}", "--Trigger:MaxRate=1000", "--Store:Enabled=false"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("corrupt_frames").GetInt64() >= 60, "many bad frames of both kinds");
        Assert.That(Regex.Matches(d.Log, "Skipping bad frames").Count, Is.EqualTo(2), d.Log);
        Assert.That(d.Log, Does.Contain("its scan stops after").And.Contain("over the limit of 40 megapixels"));
    }

    [Test]
    public void ClassifyRefusesDeviceLinksAndFifosAndGoesOn()
    {
        using var dir = new TempDir();
        File.CreateSymbolicLink(dir.File("a-zero.jpg"), "/dev/zero");
        Assert.That(System.Diagnostics.Process.Start("mkfifo", [dir.File("b-fifo.jpg")])!.WaitForExit(5000), Is.True);
        File.Copy(Samples("sky.jpg"), dir.File("c-sky.jpg"));
        var r = Edged.Run("classify", dir.Path, "--json");
        Assert.That(r.ExitCode, Is.EqualTo(3), r.Stderr);
        var results = JsonDocument.Parse(r.Stdout).RootElement.GetProperty("results");
        Assert.That(results[0].GetProperty("error").GetString(), Does.Contain("a character device, not a regular file"));
        Assert.That(results[1].GetProperty("error").GetString(), Does.Contain("a FIFO (named pipe), not a regular file"));
        Assert.That(results[2].GetProperty("top")[0].GetProperty("label").GetString(), Is.EqualTo("blue"));
    }

    [Test]
    public async Task WithoutATokenOnlyThisMachineIsServedNotOtherWebsitesThroughTheBrowser()
    {
        var camera = $"http://admin:s3cret-pw@127.0.0.1:{FreePort()}/video";
        await using var d = new DaemonProcess(["--Store:Enabled=false", "--Trigger:Mode=http", "--Trigger:Burst=100", "--Source:Kind=http", $"--Source:Url={camera}"]);
        await d.WaitListeningAsync();
        // DNS rebinding: a page at attacker.example whose name now resolves to 127.0.0.1.
        using (var rebound = new HttpRequestMessage(HttpMethod.Get, "api/frame/latest.jpg") { Headers = { Host = "attacker.example" } })
            Assert.That((await d.Client.SendAsync(rebound)).StatusCode, Is.EqualTo(HttpStatusCode.MisdirectedRequest));
        using (var local = new HttpRequestMessage(HttpMethod.Get, "api/status") { Headers = { Host = "localhost" } })
            Assert.That((await d.Client.SendAsync(local)).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        // A cross-site form post (the browser sends Origin) cannot fire actions; curl (no Origin) and the page itself can.
        using (var csrf = new HttpRequestMessage(HttpMethod.Post, "api/trigger") { Headers = { { "Origin", "http://attacker.example" } } })
            Assert.That((await d.Client.SendAsync(csrf)).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        using (var page = new HttpRequestMessage(HttpMethod.Post, "api/trigger") { Headers = { { "Origin", $"http://127.0.0.1:{d.Port}" } } })
            Assert.That((await d.Client.SendAsync(page)).StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        // Triggers wait within a bound: 100 frames are already asked for, the next request is told to wait.
        var busy = await d.Client.PostAsync("api/trigger", null);
        Assert.That(busy.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        // The camera's password never shows.
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("source").GetProperty("last_error").ValueKind == JsonValueKind.String, "the camera error");
        var status = await d.Client.GetStringAsync("api/status");
        Assert.That(status, Does.Contain("http://admin:***@127.0.0.1").And.Not.Contain("s3cret-pw"));
        Assert.That(await d.StopAsync(), Is.Zero);
        Assert.That(d.Log, Does.Not.Contain("s3cret-pw"));
    }

    [Test]
    public async Task OneRemoteHostCannotTakeEveryConnection()
    {
        var local = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses).Select(u => u.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        if (local is null) Assert.Ignore("no non-loopback IPv4 address on this machine to connect from");
        var port = FreePort();
        await using var d = new DaemonProcess([$"--Http:Url=http://0.0.0.0:{port}", "--Http:Token=0123456789abcdef0123", "--Store:Enabled=false"]);
        for (var i = 0; i < 100 && !(Listening(IPAddress.Loopback, port) && Listening(local, port)); i++) await Task.Delay(200);
        Assert.That(d.HasExited, Is.False, d.Log);
        await Task.Delay(500); // the probe connections above are closed and released
        var held = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 64; i++)
            {
                var c = new TcpClient(new IPEndPoint(local, 0));
                try { await c.ConnectAsync(local, port); }
                catch (SocketException e) { Assert.Fail($"connection {i + 1} of 64 from {local}: {e.Message}\n{d.Log}"); }
                held.Add(c);
            }
            await Task.Delay(300);
            Assert.That(held.All(c => c.Connected), Is.True);
            // The 65th from the same address is closed at once: its connect or its first read sees the reset.
            using var extra = new TcpClient(new IPEndPoint(local, 0));
            var n = 0;
            try
            {
                await extra.ConnectAsync(local, port);
                var stream = extra.GetStream();
                await stream.WriteAsync("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
                var buffer = new byte[256];
                stream.ReadTimeout = 5000;
                n = stream.Read(buffer);
            }
            catch (Exception e) when (e is IOException or SocketException) { }
            Assert.That(n, Is.Zero, "the 65th connection from one address is closed");
            using var fromHere = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            Assert.That((await fromHere.GetAsync("healthz")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "others are still served");
        }
        finally
        {
            foreach (var c in held) c.Dispose();
        }
    }

    [Test]
    public async Task ACameraSendingOnlyGarbageIsReportedUnhealthy()
    {
        using var dir = new TempDir();
        var good = File.ReadAllBytes(Samples("sky.jpg"));
        var cut = good[..(good.Length / 2)].Concat(new byte[] { 0xFF, 0xD9 }).ToArray();
        File.WriteAllBytes(dir.File("cut.mjpeg"), cut);
        var command = $"sh -c \"while true; do cat '{dir.File("cut.mjpeg")}'; sleep 0.02; done\"";
        await using var d = new DaemonProcess(["--Source:Kind=pipe", $"--Source:Command={command}", "--Trigger:MaxRate=1000", "--Store:Enabled=false"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await d.HealthAsync()).Status == 503, "health to say so");
        Assert.That((await d.HealthAsync()).Body, Does.Contain("frames did not decode: the JPEG data ends early"));
        Assert.That((await Status(d)).GetProperty("source").GetProperty("state").GetString(), Is.EqualTo("Running"), "the stream itself flows");
    }

    [Test]
    public async Task EveryFileOfAWatchedFolderIsClassifiedWhateverTheRates()
    {
        using var dir = new TempDir();
        await using var d = new DaemonProcess([$"--Source:Path={dir.Path}", "--Source:Loop=false", "--Source:Fps=100", "--Trigger:MaxRate=50",
            "--Source:StableMs=50", "--Store:Enabled=false"]);
        await d.WaitListeningAsync();
        var sky = File.ReadAllBytes(Samples("sky.jpg"));
        for (var i = 0; i < 20; i++) File.WriteAllBytes(dir.File($"{i:00}.jpg"), sky);
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("frames_classified").GetInt64() == 20, "all twenty files");
        var s = await Status(d);
        Assert.That(s.GetProperty("frames_captured").GetInt64(), Is.EqualTo(20));
        Assert.That(s.GetProperty("frames_dropped").GetInt64(), Is.Zero);
    }

    [Test]
    public async Task SigtermStopsThroughTheHostAndFlushesEveryResultToTheStore()
    {
        // The host's lifetime owns shutdown: SIGTERM stops capture, the writer flushes what is queued, and edged exits 0.
        using var dir = new TempDir();
        var db = dir.File("results.db");
        Directory.CreateDirectory(dir.File("in"));
        await using var d = new DaemonProcess([$"--Source:Path={dir.File("in")}", "--Source:Loop=false", "--Source:Fps=100", "--Trigger:MaxRate=100",
            "--Source:StableMs=50", $"--Store:Path={db}"]);
        await d.WaitListeningAsync();
        var sky = File.ReadAllBytes(Samples("sky.jpg"));
        for (var i = 0; i < 20; i++) File.WriteAllBytes(dir.File($"in/{i:00}.jpg"), sky);
        await d.WaitUntilAsync(async () => (await Status(d)).GetProperty("frames_classified").GetInt64() == 20, "all twenty files classified");
        Assert.That(await d.StopAsync(), Is.Zero);
        Assert.That(d.Log, Does.Contain("edged stopping: 20 frames classified"));
        using var store = new Storage.ResultStore(db);
        Assert.That(store.Query(0, null, 100), Has.Count.EqualTo(20), "every classified frame is in the store after SIGTERM");
    }
}
