using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Edge.Daemon.Webhooks;

namespace Edge.Daemon.Tests;

/// <summary>
/// Webhooks from real <c>edged run</c> processes to a receiver in the test (HttpListener): signatures checked with .NET's
/// own HMACSHA256, order and completeness checked against the daemon's stored events, a receiver that is down, a restart,
/// a slow receiver, and one that refuses an event. The sample frames change colour every frame, so with Consecutive 1 each
/// classified frame is a state change of every region.
/// </summary>
public class WebhookTests
{
    private const string Secret = "test-secret-0123456789abcdef";

    /// <summary>A local webhook receiver: answers 204 (or what <see cref="Answer"/> says, after <see cref="Delay"/>), keeps what it got.</summary>
    private sealed class Receiver : IDisposable
    {
        private HttpListener? _listener;
        /// <summary>State changes taken, in the order they came.</summary>
        public readonly ConcurrentQueue<(long Id, byte[] Body, string? Signature)> Received = new();
        /// <summary>Everything taken, in the order it came: X-Edge-Event ("state-change" or "result"), the row's id, the body.</summary>
        public readonly ConcurrentQueue<(string Kind, long Id, byte[] Body, string? Signature, string Delivery)> Taken = new();
        public readonly ConcurrentQueue<string> Deliveries = new();
        public readonly ConcurrentQueue<string> Authorizations = new();
        public int Port { get; } = FreePort();
        public string Url => $"http://127.0.0.1:{Port}/hook";
        public TimeSpan Delay { get; set; }
        public Func<long, int> Answer { get; set; } = _ => 204;

        public void Start()
        {
            _listener = new HttpListener();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            _listener.Start();
            var listener = _listener;
            _ = Task.Run(async () =>
            {
                while (listener.IsListening)
                {
                    HttpListenerContext ctx;
                    try { ctx = await listener.GetContextAsync(); }
                    catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
                    _ = Task.Run(async () =>
                    {
                        using var body = new MemoryStream();
                        await ctx.Request.InputStream.CopyToAsync(body);
                        var delivery = ctx.Request.Headers["X-Edge-Delivery"]!; // INSTANCE-ID (a state change) or INSTANCE-rID (a result)
                        var kind = ctx.Request.Headers["X-Edge-Event"]!;
                        var id = long.Parse(delivery[(delivery.LastIndexOf('-') + 1)..].TrimStart('r'));
                        Deliveries.Enqueue(delivery);
                        if (ctx.Request.Headers["Authorization"] is { } auth) Authorizations.Enqueue(auth);
                        if (Delay > TimeSpan.Zero) await Task.Delay(Delay);
                        var status = Answer(id);
                        if (status is >= 200 and < 300)
                        {
                            if (kind == "state-change") Received.Enqueue((id, body.ToArray(), ctx.Request.Headers["X-Edge-Signature-256"]));
                            Taken.Enqueue((kind, id, body.ToArray(), ctx.Request.Headers["X-Edge-Signature-256"], delivery));
                        }
                        ctx.Response.StatusCode = status;
                        ctx.Response.Close();
                    });
                }
            });
        }

        public void Stop()
        {
            _listener?.Close();
            _listener = null;
        }

        public void Dispose() => Stop();
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static string[] Args(Receiver r, string store, double fps = 10, params string[] more) =>
    [
        "--Model:Updates:Enabled=false", $"--Store:Path={store}", $"--Source:Fps={fps.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
        "--Decision:Consecutive=1", "--Regions:0:Name=left", "--Regions:0:Width=0.5", "--Regions:1:Name=right", "--Regions:1:X=0.5", "--Regions:1:Width=0.5",
        $"--Webhooks:0:Url={r.Url}", $"--Webhooks:0:Secret={Secret}", "--Webhooks:0:BackoffMs=100", "--Webhooks:0:MaxBackoffMs=400", .. more,
    ];

    private static async Task<JsonElement> Json(DaemonProcess d, string path) => JsonDocument.Parse(await d.Client.GetStringAsync(path)).RootElement;

    private static async Task<List<JsonElement>> StoredEvents(DaemonProcess d) =>
        [.. (await Json(d, "api/events?after=0&limit=10000")).GetProperty("events").EnumerateArray()];

    /// <summary>Every body verifies with the secret, ids rise by one, and per region each event starts where the one before ended.</summary>
    private static List<JsonElement> CheckDeliveries(Receiver r)
    {
        var got = r.Received.OrderBy(x => x.Id).ToList();
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(Secret));
        foreach (var (id, body, signature) in got)
            Assert.That(signature, Is.EqualTo("sha256=" + Convert.ToHexStringLower(hmac.ComputeHash(body))), $"event {id}'s signature");
        var events = got.Select(x => JsonDocument.Parse(x.Body).RootElement).ToList();
        var distinct = got.Select(x => x.Id).Distinct().ToList();
        Assert.That(distinct, Is.EqualTo(Enumerable.Range((int)distinct[0], distinct.Count).Select(i => (long)i)), "no event missing between the first and the last");
        foreach (var region in events.GroupBy(e => e.GetProperty("region").GetString()))
        {
            var chain = region.DistinctBy(e => e.GetProperty("id").GetInt64()).ToList();
            // A restart begins undecided (from null); otherwise each change starts where the one before ended.
            for (var i = 1; i < chain.Count; i++)
                if (chain[i].GetProperty("from").GetString() is not null)
                    Assert.That(chain[i].GetProperty("from").GetString(), Is.EqualTo(chain[i - 1].GetProperty("to").GetString()), $"region {region.Key}, event {chain[i].GetProperty("id")}");
        }
        return events;
    }

    [Test]
    public async Task StateChangesArriveSignedInOrderAndMatchTheStoredEvents()
    {
        using var dir = new TempDir();
        using var receiver = new Receiver();
        receiver.Start();
        await using var d = new DaemonProcess([.. Args(receiver, dir.File("r.db")), "--Source:Name=door"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => receiver.Received.Count >= 20, "20 deliveries");
        var stored = await StoredEvents(d);
        var status = (await Json(d, "api/status")).GetProperty("webhooks")[0];
        await d.StopAsync();
        var delivered = CheckDeliveries(receiver);
        Assert.That(delivered[0].GetProperty("id").GetInt64(), Is.EqualTo(1), "a new webhook gets what happens from its start");
        foreach (var e in delivered.Where(e => e.GetProperty("id").GetInt64() <= stored[^1].GetProperty("id").GetInt64()))
        {
            var s = stored.Single(x => x.GetProperty("id").GetInt64() == e.GetProperty("id").GetInt64());
            foreach (var key in new[] { "region", "from", "to", "frame", "camera" })
                Assert.That(e.GetProperty(key).ToString(), Is.EqualTo(s.GetProperty(key).ToString()), key);
        }
        Assert.That(status.GetProperty("signed").GetBoolean(), Is.True);
        Assert.That(status.GetProperty("url").GetString(), Is.EqualTo($"http://127.0.0.1:{receiver.Port}/…"), "the path (often a token) is not shown");
        Assert.That(receiver.Deliveries.Select(x => x[..x.LastIndexOf('-')]).Distinct().Single(), Does.Match("^[0-9a-f]{16}$"), "one database, one instance id");
        Assert.That(delivered.Select(e => e.GetProperty("camera").GetString()).Distinct(), Is.EqualTo(new[] { "door" }));
    }

    [Test]
    public async Task AReceiverDownThenUpGetsEveryEventIncludingThoseFromBeforeARestart()
    {
        using var dir = new TempDir();
        using var receiver = new Receiver(); // not started: connection refused
        long firstRunLast;
        await using (var d = new DaemonProcess(Args(receiver, dir.File("r.db"))))
        {
            await d.WaitListeningAsync();
            await d.WaitUntilAsync(async () => (await StoredEvents(d)).Count >= 10, "10 events");
            await d.WaitUntilAsync(async () => (await Json(d, "api/status")).GetProperty("webhooks")[0].GetProperty("failed_attempts").GetInt64() > 0, "a failed attempt");
            var status = (await Json(d, "api/status")).GetProperty("webhooks")[0];
            Assert.That(status.GetProperty("delivered").GetInt64(), Is.Zero);
            Assert.That(status.GetProperty("failed_attempts").GetInt64(), Is.Positive);
            Assert.That(status.GetProperty("last_error").GetString(), Is.EqualTo("connection refused"));
            var metrics = await d.Client.GetStringAsync("metrics");
            Assert.That(metrics, Does.Match(@"edged_webhook_pending\{webhook=""0""\} [1-9]"));
            Assert.That(await d.StopAsync(), Is.Zero);
        }
        using (var store = new Storage.ResultStore(dir.File("r.db")))
            firstRunLast = store.LastEventId();
        Assert.That(firstRunLast, Is.GreaterThanOrEqualTo(10));

        // The second run starts with the receiver still down, which then comes up.
        await using var second = new DaemonProcess(Args(receiver, dir.File("r.db"), fps: 2));
        await second.WaitListeningAsync();
        await Task.Delay(500);
        receiver.Start();
        await second.WaitUntilAsync(async () => receiver.Received.Any(x => x.Id > firstRunLast), "the first run's events and a new one delivered", seconds: 60);
        await second.StopAsync();
        var delivered = CheckDeliveries(receiver);
        Assert.That(delivered[0].GetProperty("id").GetInt64(), Is.EqualTo(1), "the first run's events, from its first");
        Assert.That(delivered.Count(e => e.GetProperty("from").ValueKind == JsonValueKind.Null), Is.EqualTo(4), "each run's first decision of each region");
    }

    [Test]
    public async Task ASlowReceiverDoesNotSlowClassification()
    {
        using var dir = new TempDir();
        using var receiver = new Receiver { Delay = TimeSpan.FromSeconds(2) };
        receiver.Start();
        // Folder frames are lossless (capture waits for classification): any wait on the receiver would show in the count.
        await using var d = new DaemonProcess(Args(receiver, dir.File("r.db"), fps: 20, "--Webhooks:0:TimeoutMs=10000", "--Trigger:MaxRate=20"));
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => (await Json(d, "api/status")).GetProperty("frames_classified").GetInt64() >= 1, "a first frame");
        var start = (await Json(d, "api/status")).GetProperty("frames_classified").GetInt64();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Task.Delay(3000);
        var status = await Json(d, "api/status");
        var classified = status.GetProperty("frames_classified").GetInt64() - start;
        var expected = 20 * clock.Elapsed.TotalSeconds;
        TestContext.Out.WriteLine($"{classified} frames classified in {clock.Elapsed.TotalSeconds:0.0} s at 20 fps with a receiver taking 2 s per event; " +
                                  $"{status.GetProperty("webhooks")[0].GetProperty("pending")} events waiting");
        Assert.That(classified, Is.GreaterThan(expected * 0.6), "classification kept the source's pace (at most 1 delivery could have finished)");
        Assert.That(status.GetProperty("webhooks")[0].GetProperty("pending").GetInt64(), Is.GreaterThan(20), "events queue for the receiver instead");
        await d.StopAsync();
    }

    [Test]
    public async Task AnEventTheReceiverRefusesIsSkippedAfterMaxRefusalsAndTheRestGoOn()
    {
        using var dir = new TempDir();
        var asked = new ConcurrentDictionary<long, int>();
        using var receiver = new Receiver { Answer = id => { asked.AddOrUpdate(id, 1, (_, n) => n + 1); return id == 3 ? 400 : 204; } };
        receiver.Start();
        await using var d = new DaemonProcess(Args(receiver, dir.File("r.db"), 10, "--Webhooks:0:MaxRefusals=3"));
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => receiver.Received.Any(x => x.Id >= 6), "events after the refused one");
        var status = (await Json(d, "api/status")).GetProperty("webhooks")[0];
        await d.StopAsync();
        Assert.That(asked[3], Is.EqualTo(3), "a refused event is sent MaxRefusals times");
        Assert.That(receiver.Received.Select(x => x.Id), Does.Not.Contain(3L).And.Contains(2L).And.Contains(4L));
        Assert.That(status.GetProperty("skipped").GetInt64(), Is.EqualTo(1));
        Assert.That(status.GetProperty("last_error").ValueKind, Is.EqualTo(JsonValueKind.Null).Or.EqualTo(JsonValueKind.String));
    }

    [Test]
    public async Task ARedirectIsNotADeliveryAndAUserInTheUrlIsSentAsBasicAuthentication()
    {
        using var dir = new TempDir();
        var asked = new ConcurrentDictionary<long, int>();
        // The first event is answered with a redirect twice: followed, the POST would become a GET whose 200 looked delivered.
        using var receiver = new Receiver { Answer = id => asked.AddOrUpdate(id, 1, (_, n) => n + 1) <= 2 && id == 1 ? 302 : 204 };
        receiver.Start();
        var args = Args(receiver, dir.File("r.db")).Select(a => a.Replace("http://127.0.0.1", "http://hook:p%40ss@127.0.0.1", StringComparison.Ordinal)).ToArray();
        await using var d = new DaemonProcess(args);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => receiver.Received.Any(x => x.Id >= 3), "three deliveries");
        await d.StopAsync();
        Assert.That(asked[1], Is.EqualTo(3), "redirected twice, retried, delivered on the third attempt");
        Assert.That(receiver.Authorizations.Distinct(), Is.EqualTo(new[] { "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("hook:p@ss")) }));
        Assert.That(d.Log, Does.Not.Contain("p%40ss").And.Not.Contain("p@ss"), "the password is not logged");
    }

    /// <summary>
    /// A webhook asking for every result of two classes (of the six the sample frames show) gets exactly the stored results
    /// decided as those classes (read back with plain SQL), signed, each once, from before a restart while its receiver was
    /// down too, merged in time with the state changes, which still all arrive.
    /// </summary>
    [Test]
    public async Task ResultsOfChosenClassesArriveMergedInTimeWithStateChangesAndSurviveARestart()
    {
        using var dir = new TempDir();
        using var receiver = new Receiver(); // down during the first run
        string[] results = ["--Webhooks:0:Results:0=red", "--Webhooks:0:Results:1=blue"];
        await using (var d = new DaemonProcess(Args(receiver, dir.File("r.db"), 10, results)))
        {
            await d.WaitListeningAsync();
            await d.WaitUntilAsync(async () => (await d.Client.GetStringAsync("api/results?after=0&limit=10000")).Split("\"decision\":\"red\"").Length > 4, "red results stored");
            var status = (await Json(d, "api/status")).GetProperty("webhooks")[0];
            Assert.That(status.GetProperty("results").EnumerateArray().Select(x => x.GetString()), Is.EqualTo(new[] { "red", "blue" }));
            Assert.That(status.GetProperty("results_delivered").GetInt64(), Is.Zero);
            Assert.That(await d.StopAsync(), Is.Zero);
        }
        var firstRun = MatchingResults(dir.File("r.db"));
        Assert.That(firstRun, Is.Not.Empty);

        await using (var second = new DaemonProcess(Args(receiver, dir.File("r.db"), 4, results)))
        {
            await second.WaitListeningAsync();
            receiver.Start();
            await second.WaitUntilAsync(async () => receiver.Taken.Any(x => x.Kind == "result" && x.Id > firstRun[^1]), "the first run's results and a new one delivered", seconds: 60);
            var metrics = await second.Client.GetStringAsync("metrics");
            Assert.That(metrics, Does.Match(@"edged_webhook_result_deliveries_total\{webhook=""0""\} [1-9]"));
            await second.StopAsync();
        }
        var stored = MatchingResults(dir.File("r.db"));
        var taken = receiver.Taken.ToList();
        var got = taken.Where(x => x.Kind == "result").ToList();
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(Secret));
        foreach (var x in got)
        {
            Assert.That(x.Signature, Is.EqualTo("sha256=" + Convert.ToHexStringLower(hmac.ComputeHash(x.Body))), $"result {x.Id}'s signature");
            var body = JsonDocument.Parse(x.Body).RootElement;
            Assert.That(body.GetProperty("kind").GetString(), Is.EqualTo("result"));
            Assert.That(body.GetProperty("id").GetInt64(), Is.EqualTo(x.Id));
            Assert.That(body.GetProperty("delivery").GetString(), Is.EqualTo(x.Delivery));
            Assert.That(body.GetProperty("decision").GetString(), Is.AnyOf("red", "blue"));
            Assert.That(body.GetProperty("scores")[0].GetProperty("label").GetString(), Is.EqualTo(body.GetProperty("decision").GetString()), "the top class decided it");
            Assert.That(body.GetProperty("region").GetString(), Is.AnyOf("left", "right"));
        }
        var ids = got.Select(x => x.Id).Distinct().ToList();
        Assert.That(ids, Is.EqualTo(stored.Take(ids.Count)), "every stored red or blue result, in order, none missing, none of another class");
        Assert.That(ids.Count, Is.GreaterThan(firstRun.Count), "the first run's, then the second's");
        // Merged: what was taken comes in time order, whichever table it came from.
        var times = taken.Select(x => JsonDocument.Parse(x.Body).RootElement.GetProperty("time").GetDateTimeOffset()).ToList();
        Assert.That(times, Is.Ordered, "deliveries in time order");
        Assert.That(taken.Count(x => x.Kind == "state-change"), Is.Positive);
        // With Consecutive 1 a change to red or blue is caused by a red or blue result of its frame: that result came first.
        for (var i = 0; i < taken.Count; i++)
        {
            if (taken[i].Kind != "state-change") continue;
            var change = JsonDocument.Parse(taken[i].Body).RootElement;
            if (change.GetProperty("to").GetString() is not ("red" or "blue")) continue;
            var cause = taken.Take(i).Where(x => x.Kind == "result").Select(x => JsonDocument.Parse(x.Body).RootElement)
                .Where(x => x.GetProperty("region").GetString() == change.GetProperty("region").GetString() && x.GetProperty("time").GetDateTimeOffset() == change.GetProperty("time").GetDateTimeOffset());
            Assert.That(cause.Select(x => x.GetProperty("decision").GetString()), Does.Contain(change.GetProperty("to").GetString()),
                $"the result that caused state change {taken[i].Id} was sent before it");
        }
        CheckDeliveries(receiver);
    }

    /// <summary>The ids of the stored results decided red or blue, oldest first: plain SQL, not the store's own query.</summary>
    private static List<long> MatchingResults(string db)
    {
        using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id FROM results WHERE decision = 'red' OR decision = 'blue' ORDER BY id;";
        using var r = cmd.ExecuteReader();
        var ids = new List<long>();
        while (r.Read()) ids.Add(r.GetInt64(0));
        return ids;
    }

    /// <summary>
    /// The results feed's store side: a page of matching results and how far the table was looked through (an unreadable
    /// row counts as read); retention keeps results a webhook has not had beyond MaxRows, up to twice it, and keeps nothing
    /// for a cursor that is dropped or of a webhook no longer configured.
    /// </summary>
    [Test]
    public void TheResultsQueueSkipsOtherClassesAndRetentionKeepsUndeliveredOnesUpToTwiceMaxRows()
    {
        using var dir = new TempDir();
        using var store = new Storage.ResultStore(dir.File("r.db"), maxRows: 10);
        // Recent times: retention's age limit (30 days) does not apply, only the row counts.
        var t0 = DateTimeOffset.UtcNow.AddHours(-1);
        var cursor = store.WebhookCursor("hook", t0, Storage.WebhookFeed.Results);
        Assert.That(cursor, Is.Zero, "a new webhook starts after what is stored before its start: nothing");
        string Decision(int i) => i % 3 == 0 ? "red" : i % 3 == 1 ? "blue" : "unknown";
        store.Add([.. Enumerable.Range(1, 40).Select(i => new Storage.ResultRecord(t0.AddSeconds(i), "s", "continuous", [new Storage.StoredPrediction("x", 0, 1)], 1, null,
            Decision: Decision(i)))]);
        var page = store.ResultsDecided(0, ["red"], 3);
        Assert.That(page.Rows.Select(r => r.Id), Is.EqualTo(new long[] { 3, 6, 9 }));
        Assert.That(page.Rows.Select(r => r.Decision).Distinct(), Is.EqualTo(new[] { "red" }));
        Assert.That((page.Full, page.ScannedTo, page.Oldest), Is.EqualTo((true, 9L, 1L)), "a full page: looked through up to its last row");
        page = store.ResultsDecided(9, ["red", "unknown"], 100);
        Assert.That(page.Rows.Select(r => r.Id), Is.EqualTo(Enumerable.Range(10, 31).Where(i => i % 3 != 1).Select(i => (long)i)));
        Assert.That((page.Full, page.ScannedTo), Is.EqualTo((false, 40L)), "all matching rows read: looked through to the newest");
        page = store.ResultsDecided(40, ["red"], 100);
        Assert.That((page.Rows.Count, page.ScannedTo), Is.EqualTo((0, 40L)));

        // A damaged row among a full page: the page is still full and ends where the reading did, not at the newest row.
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={dir.File("r.db")};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE results SET top = 'not json' WHERE id = 6;";
            cmd.ExecuteNonQuery();
        }
        page = store.ResultsDecided(0, ["red"], 3);
        Assert.That((page.Rows.Select(r => r.Id), page.Full, page.ScannedTo), Is.EqualTo((new long[] { 3, 9 }, true, 9L)));

        store.SetWebhookCursor("hook", 5, Storage.WebhookFeed.Results);
        store.Cleanup();
        Assert.That(store.ResultsDecided(0, ["red", "blue", "unknown"], 100).Oldest, Is.EqualTo(21), "undelivered kept, up to twice MaxRows (10)");
        store.SetWebhookCursor("hook", 25, Storage.WebhookFeed.Results);
        store.Cleanup();
        Assert.That(store.ResultsDecided(0, ["red", "blue", "unknown"], 100).Oldest, Is.EqualTo(26), "delivered ones beyond MaxRows go");
        store.KeepWebhookCursors(["other"], ["hook"]);
        store.Cleanup();
        Assert.That(store.ResultsDecided(0, ["red", "blue", "unknown"], 100).Oldest, Is.EqualTo(26), "a configured webhook's cursor is kept");
        store.KeepWebhookCursors([], []);
        store.Cleanup();
        Assert.That(store.ResultsDecided(0, ["red", "blue", "unknown"], 100).Oldest, Is.EqualTo(31), "no webhook configured: MaxRows");
        Assert.That(store.Count(), Is.EqualTo(10));
        Assert.That(store.WebhookCursor("hook", t0, Storage.WebhookFeed.Results), Is.EqualTo(0), "its cursor was forgotten: a new start");
    }

    [TestCase(0)]
    [TestCase(16)]
    [TestCase(63)]
    [TestCase(64)]
    [TestCase(65)]
    [TestCase(200)]
    public void HmacMatchesDotNets(int keyLength)
    {
        var rng = new Random(keyLength);
        var key = new byte[keyLength];
        rng.NextBytes(key);
        foreach (var length in new[] { 0, 1, 55, 56, 64, 1000 })
        {
            var message = new byte[length];
            rng.NextBytes(message);
            Assert.That(HmacSha256.Compute(key, message), Is.EqualTo(HMACSHA256.HashData(key, message)), $"key {keyLength} bytes, message {length}");
        }
    }

    [Test]
    public void BadWebhookSettingsAreNamed()
    {
        var r = Edged.Run("run", "--Webhooks:0:Url=ftp://x", "--Webhooks:0:Secret=short", "--Webhooks:1:Url=http://127.0.0.1:1/h", "--Webhooks:1:TimeoutMs=5",
            "--Webhooks:1:Results:0=red", "--Webhooks:1:Results:1=red", "--Webhooks:1:Results:2=", "--Webhooks:2:Url=http://127.0.0.1:2/h", "--Webhooks:2:StateChanges=false",
            "--Store:Enabled=false");
        Assert.That(r.ExitCode, Is.Not.Zero);
        Assert.That(r.Stderr, Does.Contain("Webhooks:0:Url: 'ftp://x' is not an http(s) URL").And.Contain("Webhooks:0:Secret: must be 16..1024")
            .And.Contain("Webhooks:1:TimeoutMs: must be 100..300000").And.Contain("Webhooks: need Store:Enabled=true")
            .And.Contain("Webhooks:1:Results:1: 'red' is given twice").And.Contain("Webhooks:1:Results:2: must name a class")
            .And.Contain("Webhooks:2:StateChanges: is false and Results names no class"));
        Assert.That(r.Stderr.Trim().Split('\n'), Has.Length.EqualTo(1), "one line");
    }

    [Test]
    public void AResultsClassTheModelDoesNotHaveIsNamed()
    {
        var r = Edged.Run("run", "--Webhooks:0:Url=http://127.0.0.1:1/h", "--Webhooks:0:Results:0=unknown", "--Webhooks:0:Results:1=mauve", "--Model:Updates:Enabled=false");
        Assert.That(r.ExitCode, Is.Not.Zero);
        Assert.That(r.Stderr, Does.Contain("Webhooks:0:Results:1 'mauve' is not a class of the model").And.Not.Contain("Results:0"), "unknown is always a decision");
        Assert.That(r.Stderr.Split('\n').Where(l => l.Contains("error", StringComparison.Ordinal)).ToList(), Has.Count.EqualTo(1), "one line");
        Assert.That(r.Stderr, Does.Not.Contain("   at "), "no stack trace");
    }
}
