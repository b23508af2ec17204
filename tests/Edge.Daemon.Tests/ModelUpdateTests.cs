using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Edge.Onnx.Model;

namespace Edge.Daemon.Tests;

/// <summary>
/// Model updates in a real <c>edged run</c>: refused models (each reason), good ones swapped in under continuous
/// classification, the folder, the token, persistence across restarts. Throughout: classification never stops and
/// no result is ever made by a model that was refused.
/// </summary>
public class ModelUpdateTests
{
    private const string Token = "0123456789abcdef-model-updates";
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private static string Samples => Path.Combine(RepoPaths.Models, "samples");

    private string SaveModel(Onnx.Protos.ModelProto model, string name) => TestModels.Save(model, _dir.File(name));

    private static byte[] Bytes(Onnx.Protos.ModelProto model) => Google.Protobuf.MessageExtensions.ToByteArray(model);

    private static string Sha(byte[] bytes) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));

    private static async Task<JsonElement> Get(DaemonProcess d, string path, string? token = Token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var r = await d.Client.SendAsync(request);
        Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.OK), $"GET {path}: {await r.Content.ReadAsStringAsync()}");
        return JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> Post(DaemonProcess d, byte[] model, string? token = Token, string? sha256 = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/model" + (sha256 is null ? "" : "?sha256=" + sha256)) { Content = new ByteArrayContent(model) };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var r = await d.Client.SendAsync(request);
        return (r.StatusCode, JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static async Task<List<(DateTimeOffset Time, string Model)>> Results(DaemonProcess d)
    {
        var rows = (await Get(d, "api/results?after=0&limit=10000")).GetProperty("results");
        return [.. rows.EnumerateArray().Select(r => (r.GetProperty("time").GetDateTimeOffset(), r.GetProperty("model").GetString()!))];
    }

    private static async Task<long> Classified(DaemonProcess d, string? token = Token) => (await Get(d, "api/status", token)).GetProperty("frames_classified").GetInt64();

    [Test]
    public async Task BadModelsAreRefusedWithTheirReasonAndTheRunningModelGoesOn()
    {
        var basePath = SaveModel(HostileModels.Release("1"), "base.onnx");
        var baseSha = Sha(File.ReadAllBytes(basePath));
        await using var d = new DaemonProcess([$"--Model:Path={basePath}", $"--Http:Token={Token}", $"--Source:Path={Samples}", "--Source:Fps=20", "--Trigger:MaxRate=20"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => await Classified(d) >= 3, "the first classifications");

        var good = Bytes(HostileModels.Release("2"));
        Assert.That((await Post(d, good, token: null)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await Post(d, good, token: "wrong-token-wrong-token")).Status, Is.EqualTo(HttpStatusCode.Unauthorized));

        var full = Bytes(HostileModels.Release("3"));
        var cases = new (string What, byte[] Model, string? Sha, string Reason)[]
        {
            ("truncated", full[..(full.Length / 2)], null, "not a valid ONNX model"),
            ("wrong input shape", Bytes(HostileModels.FourChannelInput()), null, "is not an image tensor"),
            ("NaN on real images", Bytes(HostileModels.NaNOnBrightImages()), null, "non-finite scores"),
            ("missing metadata", Bytes(HostileModels.WithoutMetadata()), null, "its metadata does not state labels, scale, mean, std"),
            ("other labels", Bytes(HostileModels.Release("4", ["a", "b", "c", "x"])), null, "its labels differ from the running model's (it adds 'x' and lacks 'd')"),
            ("wrong checksum", full, new string('0', 64), $"its SHA-256 is {Sha(full)}, not the {new string('0', 64)} given"),
        };
        foreach (var (what, model, sha, reason) in cases)
        {
            var (status, body) = await Post(d, model, sha256: sha);
            Assert.That(status, Is.EqualTo(HttpStatusCode.UnprocessableEntity), $"{what}: {body}");
            Assert.That(body.GetProperty("outcome").GetString(), Is.EqualTo("refused"), what);
            Assert.That(body.GetProperty("reason").GetString(), Does.Contain(reason), what);
        }

        var before = await Classified(d);
        await d.WaitUntilAsync(async () => await Classified(d) >= before + 5, "classification after the refusals");
        var s = await Get(d, "api/status");
        Assert.That(s.GetProperty("health").GetProperty("ok").GetBoolean(), Is.True, s.ToString());
        var m = s.GetProperty("model");
        Assert.That(m.GetProperty("sha256").GetString(), Is.EqualTo(baseSha));
        Assert.That(m.GetProperty("version").GetString(), Is.EqualTo("1"));
        Assert.That(m.GetProperty("updates").GetProperty("refused").GetInt64(), Is.EqualTo(cases.Length));
        Assert.That(m.GetProperty("updates").GetProperty("accepted").GetInt64(), Is.Zero);
        Assert.That(s.GetProperty("inference_errors").GetInt64(), Is.Zero, "no refused model classified a frame");
        var results = await Results(d);
        Assert.That(results.Select(r => r.Model).Distinct(), Is.EqualTo(new[] { baseSha[..12] }), "every result was made by the running model");
        var events = (await Get(d, "api/model/events")).GetProperty("events").EnumerateArray().ToList();
        Assert.That(events.Select(e => e.GetProperty("event").GetString()), Is.EqualTo(Enumerable.Repeat("refused", cases.Length)), "each refusal is recorded in the store");
        Assert.That(events[^1].GetProperty("detail").GetString(), Does.Contain("its SHA-256 is"));
        Assert.That(d.Log, Does.Contain("Model update from http: 127.0.0.1 refused: its labels differ"));
    }

    [Test]
    public async Task GoodModelsSwapInBetweenFramesUnderContinuousLoadWithoutAGap()
    {
        var basePath = SaveModel(HostileModels.Release("1"), "base.onnx");
        var v = new[] { "2", "3", "4" }.Select(n => Bytes(HostileModels.Release(n))).ToArray();
        const double fps = 50;
        await using var d = new DaemonProcess([$"--Model:Path={basePath}", $"--Http:Token={Token}", $"--Source:Path={Samples}", $"--Source:Fps={fps}",
            "--Trigger:MaxRate=1000", "--Model:Updates:ProbationFrames=20"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => await Classified(d) >= 20, "a second of classifications");

        // Uploads keep classifying on their own session while models change under them: never an error.
        using var stopUploads = new CancellationTokenSource();
        var image = File.ReadAllBytes(Path.Combine(Samples, "sky.jpg"));
        var uploadStatuses = new List<HttpStatusCode>();
        var uploading = Task.Run(async () =>
        {
            while (!stopUploads.IsCancellationRequested)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "api/classify") { Content = new ByteArrayContent(image) };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
                using var r = await d.Client.SendAsync(request);
                lock (uploadStatuses) uploadStatuses.Add(r.StatusCode);
            }
        });

        // Two updates in quick succession: both are checked (one at a time) and accepted; the later one runs.
        var both = await Task.WhenAll(Post(d, v[0]), Post(d, v[1]));
        foreach (var (status, body) in both)
        {
            Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToString());
            Assert.That(body.GetProperty("outcome").GetString(), Is.EqualTo("accepted"));
            Assert.That(body.GetProperty("probation_frames").GetInt32(), Is.EqualTo(20));
        }
        var (again, _) = await Post(d, v[2]);
        Assert.That(again, Is.EqualTo(HttpStatusCode.OK));
        await d.WaitUntilAsync(async () =>
        {
            var m = (await Get(d, "api/model"));
            return m.GetProperty("sha256").GetString() == Sha(v[2]) && m.GetProperty("probation").ValueKind == JsonValueKind.Null;
        }, "v4 running and proven");
        var before = await Classified(d);
        await d.WaitUntilAsync(async () => await Classified(d) >= before + 10, "classification after the swaps");

        await stopUploads.CancelAsync();
        await uploading;
        Assert.That(uploadStatuses, Is.Not.Empty.And.All.EqualTo(HttpStatusCode.OK), "uploads during the swaps");

        var s = await Get(d, "api/status");
        var model = s.GetProperty("model");
        Assert.That(model.GetProperty("version").GetString(), Is.EqualTo("4"));
        Assert.That(model.GetProperty("origin").GetString(), Is.EqualTo("http: 127.0.0.1"));
        Assert.That(model.GetProperty("previous").GetProperty("sha256").GetString(), Is.AnyOf(Sha(v[0]), Sha(v[1])), "the model it replaced");
        Assert.That(model.GetProperty("updates").GetProperty("accepted").GetInt64(), Is.EqualTo(3));
        Assert.That(s.GetProperty("inference_errors").GetInt64(), Is.Zero);
        Assert.That(s.GetProperty("frames_dropped").GetInt64(), Is.Zero);

        var results = await Results(d);
        var known = new[] { Sha(File.ReadAllBytes(basePath)) }.Concat(v.Select(Sha)).Select(h => h[..12]).ToHashSet();
        Assert.That(results.Select(r => r.Model).Distinct(), Is.SubsetOf(known));
        Assert.That(results[^1].Model, Is.EqualTo(Sha(v[2])[..12]));
        // Each swap: the last frame of the old model and the first of the new one are consecutive frames of the source.
        var interval = 1000 / fps;
        var gaps = new List<double>();
        for (var i = 1; i < results.Count; i++)
            if (results[i].Model != results[i - 1].Model) gaps.Add((results[i].Time - results[i - 1].Time).TotalMilliseconds);
        var all = results.Skip(1).Select((r, i) => (r.Time - results[i].Time).TotalMilliseconds).Order().ToList();
        TestContext.Out.WriteLine($"swaps: {gaps.Count}, gap at each swap (ms): {string.Join(", ", gaps.Select(g => g.ToString("0.0")))}; " +
            $"between any two results: median {all[all.Count / 2]:0.0}, p99 {all[(int)(all.Count * 0.99)]:0.0}, max {all[^1]:0.0} ms over {all.Count}; " +
            $"frame interval {interval:0.0} ms; {uploadStatuses.Count} uploads classified meanwhile");
        Assert.That(gaps, Has.Count.InRange(2, 3));
        // Result times are capture times in whole milliseconds from a source paced at 50 fps on a busy 2-core machine:
        // a missed frame would show as two intervals (40 ms).
        Assert.That(gaps, Has.All.LessThan(2 * interval), "no frame was skipped at a swap");
    }

    [Test]
    public async Task ADroppedModelIsTakenAndStartedWithAfterARestartUntilTheConfiguredModelChanges()
    {
        var basePath = SaveModel(HostileModels.Release("1"), "base.onnx");
        var incoming = Directory.CreateDirectory(_dir.File("incoming")).FullName;
        var state = Directory.CreateDirectory(_dir.File("state")).FullName;
        string[] Args(string model) => [$"--Model:Path={model}", $"--Source:Path={Samples}", "--Source:Fps=30", "--Trigger:MaxRate=30",
            $"--Model:Updates:Folder={incoming}", "--Model:Updates:StableMs=100", "--Model:Updates:ProbationFrames=5"];
        var env = new Dictionary<string, string> { ["XDG_STATE_HOME"] = state };
        var v2 = Bytes(HostileModels.Release("2"));
        await using (var d = new DaemonProcess(Args(basePath), env))
        {
            await d.WaitListeningAsync();
            // Without a token the API does not take models: only the folder does.
            var (forbidden, body) = await Post(d, v2, token: null);
            Assert.That(forbidden, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That(body.GetProperty("error").GetString(), Does.Contain("need Http:Token"));

            var bad = Bytes(HostileModels.Release("bad"));
            File.WriteAllBytes(Path.Combine(incoming, "truncated.onnx"), bad[..100]);
            File.WriteAllBytes(Path.Combine(incoming, "mismatch.onnx"), bad);
            File.WriteAllText(Path.Combine(incoming, "mismatch.onnx.sha256"), new string('a', 64) + "  mismatch.onnx\n");
            File.WriteAllBytes(Path.Combine(incoming, "v2.onnx"), v2);
            File.WriteAllText(Path.Combine(incoming, "v2.onnx.sha256"), Sha(v2) + "  v2.onnx\n");
            await d.WaitUntilAsync(async () =>
            {
                var m = await Get(d, "api/model", token: null);
                return m.GetProperty("sha256").GetString() == Sha(v2) && m.GetProperty("probation").ValueKind == JsonValueKind.Null;
            }, "the dropped model running and proven");
            await d.WaitUntilAsync(() => Task.FromResult(File.Exists(Path.Combine(incoming, "mismatch.onnx.refused"))), "the mismatched file set aside");
            Assert.That(Directory.GetFiles(incoming).Select(Path.GetFileName).Order(),
                Is.EqualTo(new[] { "mismatch.onnx.refused", "mismatch.onnx.sha256.refused", "truncated.onnx.refused" }), "taken files leave the folder; refused ones are renamed");
            var m = await Get(d, "api/model", token: null);
            Assert.That(m.GetProperty("origin").GetString(), Is.EqualTo("folder: v2.onnx"));
            Assert.That(m.GetProperty("updates").GetProperty("refused").GetInt64(), Is.EqualTo(2));
            Assert.That(m.GetProperty("updates").GetProperty("api").GetBoolean(), Is.False);
            Assert.That(d.Log, Does.Contain("Model update from folder: mismatch.onnx refused: its SHA-256 is"));
            Assert.That(await d.StopAsync(), Is.Zero);
        }
        var kept = Directory.GetFiles(Path.Combine(state, "edge", "models")).Select(Path.GetFileName).Order().ToList();
        Assert.That(kept, Is.EqualTo(new[] { "active.json", Sha(v2) + ".onnx", "models.lock" }),
            "the accepted model's own copy and the record of it; refused copies are gone");

        await using (var d = new DaemonProcess(Args(basePath), env))
        {
            await d.WaitListeningAsync();
            var m = await Get(d, "api/model", token: null);
            Assert.That(m.GetProperty("sha256").GetString(), Is.EqualTo(Sha(v2)), "the last proven model survives a restart");
            Assert.That(m.GetProperty("previous").GetProperty("sha256").GetString(), Is.EqualTo(Sha(File.ReadAllBytes(basePath))), "and so does the one it replaced");
            Assert.That(m.GetProperty("previous").GetProperty("origin").GetString(), Is.EqualTo("configured"));
            Assert.That(m.GetProperty("origin").GetString(), Is.EqualTo("folder: v2.onnx"));
            await d.WaitUntilAsync(async () => await Classified(d, token: null) >= 3, "classification on the kept model");
            // A second daemon on the same state directory (with its own store) runs, without updates.
            await using var other = new DaemonProcess([.. Args(basePath), "--Store:Enabled=false"], env);
            await other.WaitListeningAsync();
            await other.WaitUntilAsync(() => Task.FromResult(other.Log.Contains("Model updates are off", StringComparison.Ordinal)), "the second daemon saying so");
            Assert.That(other.Log, Does.Contain($"belongs to another edged (pid {d.Pid})"));
            Assert.That((await Get(other, "api/model", token: null)).GetProperty("updates").GetProperty("enabled").GetBoolean(), Is.False);
        }

        var newer = SaveModel(HostileModels.Release("5"), "newer.onnx");
        await using (var d = new DaemonProcess(Args(newer), env))
        {
            await d.WaitListeningAsync();
            var m = await Get(d, "api/model", token: null);
            Assert.That(m.GetProperty("version").GetString(), Is.EqualTo("5"), "a changed Model:Path wins over an update accepted over the old one");
            Assert.That(m.GetProperty("origin").GetString(), Is.EqualTo("configured"));
            Assert.That(d.Log, Does.Contain("changed since model"));
        }
    }

    [Test]
    public async Task AModelThatTookEdgedDownWhileBeingCheckedIsNotTakenAgain()
    {
        var basePath = SaveModel(HostileModels.Release("1"), "base.onnx");
        var incoming = Directory.CreateDirectory(_dir.File("incoming")).FullName;
        var models = Directory.CreateDirectory(_dir.File("state/edge/models")).FullName;
        var crasher = Bytes(HostileModels.Release("crasher"));
        // What a check interrupted by a crash leaves behind (written before ONNX Runtime sees the model).
        File.WriteAllText(Path.Combine(models, "checking"), Sha(crasher) + "\nfolder: crasher.onnx\n");
        await using var d = new DaemonProcess([$"--Model:Path={basePath}", $"--Source:Path={Samples}", $"--Model:Updates:Folder={incoming}", "--Model:Updates:StableMs=0"],
            new Dictionary<string, string> { ["XDG_STATE_HOME"] = _dir.File("state") });
        await d.WaitListeningAsync();
        File.WriteAllBytes(Path.Combine(incoming, "again.onnx"), crasher);
        await d.WaitUntilAsync(() => Task.FromResult(File.Exists(Path.Combine(incoming, "again.onnx.refused"))), "the same model refused");
        var m = await Get(d, "api/model", token: null);
        Assert.That(m.GetProperty("version").GetString(), Is.EqualTo("1"));
        var events = m.GetProperty("updates").GetProperty("recent").EnumerateArray().Select(e => e.GetProperty("detail").GetString()).ToList();
        Assert.That(events, Has.Exactly(1).StartsWith("edged stopped while checking it"));
        Assert.That(events, Has.Exactly(1).StartsWith("this model failed here before (edged stopped while checking it"));
        Assert.That(File.Exists(Path.Combine(models, "checking")), Is.False);
    }

    [Test]
    public void BadUpdateSettingsAreNamed()
    {
        var r = Edged.Run("run", "--Model:Updates:MaxMb=0", "--Model:Updates:ProbationFrames=2", "--Model:Updates:RollbackFailures=3", "--Store:Enabled=false");
        Assert.That(r.ExitCode, Is.Not.Zero);
        Assert.That(r.Stderr, Does.Contain("Model:Updates:MaxMb: must be 1..2047, got 0"));
        Assert.That(r.Stderr, Does.Contain("Model:Updates:RollbackFailures: must not exceed Model:Updates:ProbationFrames (2), got 3"));
        using var state = new TempDir();
        var same = Edged.RunWith(null, new Dictionary<string, string> { ["XDG_STATE_HOME"] = state.Path },
            "run", $"--Model:Updates:Folder={state.Path}/edge/models", "--Store:Enabled=false");
        Assert.That(same.Stderr, Does.Contain("Model:Updates:Folder: ").And.Contain("is where edged keeps the models it accepted"));
    }
}
