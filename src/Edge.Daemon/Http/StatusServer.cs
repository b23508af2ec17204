using System.Globalization;
using System.Reflection;
using System.Text;
using Edge.Core.Imaging;
using Edge.Daemon.Configuration;
using Edge.Daemon.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Http;

/// <summary>
/// The local HTTP API and live page (ASP.NET Core slim builder, source-generated JSON). Listens on
/// exactly the endpoints parsed from Http:Url (loopback by default; anything else requires the
/// bearer token, checked on everything but /healthz and the page's own files). Nothing else can add a
/// listener: ASP.NET's own configuration sources (appsettings.json, ASPNETCORE_URLS) are cleared.
/// Every response carries a Content-Security-Policy that allows only the page's own script and style,
/// and the page inserts every string it shows as text.
/// </summary>
public static class StatusServer
{
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static WebApplication Build(CameraSet cameras, EdgedOptions options, IReadOnlyList<HttpEndpoint> endpoints,
        UploadClassifier? uploads, ILoggerProvider? logs = null, Triggers.TriggerInputs? inputs = null, Models.ModelUpdater? updates = null,
        IReadOnlyList<Webhooks.WebhookSender>? webhooks = null)
    {
        var primary = cameras.Primary;
        // The empty builder, not the slim one: the slim builder reads appsettings.json from the working directory
        // (a malformed one stopped edged from starting) and watches that directory's whole tree for changes (one
        // inotify watch per subdirectory, walked at start: seconds and thousands of watches under a large working
        // directory). edged takes no configuration from ASP.NET: only Kestrel, routing and logging.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrelCore();
        builder.Services.AddRoutingCore();
        var limiter = new ConnectionLimiter(PerAddressConnections);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.Http.MaxUploadBytes;
            k.Limits.MaxConcurrentConnections = MaxConnections;
            k.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(15);
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            k.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            k.Limits.MaxRequestLineSize = 8 * 1024;
            foreach (var e in endpoints)
            {
                if (e.Address is null) k.ListenLocalhost(e.Port, l => l.Use(limiter.Middleware));
                else k.Listen(e.Address, e.Port, l => l.Use(limiter.Middleware));
            }
        });
        builder.Logging.ClearProviders();
        if (logs is not null) builder.Logging.AddProvider(logs);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        // The host says "failed to start" before the start fails; edged says it once itself. Request errors still show (Kestrel).
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        builder.Services.ConfigureHttpJsonOptions(j => j.SerializerOptions.TypeInfoResolverChain.Insert(0, HttpJson.Default));
        var app = builder.Build();

        app.Use(async (ctx, next) =>
        {
            var h = ctx.Response.Headers;
            h.ContentSecurityPolicy = ContentSecurityPolicy;
            h.XContentTypeOptions = "nosniff";
            h.XFrameOptions = "DENY";
            h["Referrer-Policy"] = "no-referrer";
            h.CacheControl = "no-store";
            await next(ctx);
        });

        var token = options.Http.Token;
        var open = string.IsNullOrEmpty(token);
        app.Use(async (ctx, next) =>
        {
            // Without a token the API trusts whoever reaches it, which must be this machine: a Host that is
            // not an address (DNS rebinding: a web page whose name resolves to 127.0.0.1) or a cross-site
            // POST (a page making the browser trigger actions) is refused.
            if (open && !IsAddressHost(ctx.Request.Host.Host))
            {
                ctx.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
                await ctx.Response.WriteAsJsonAsync(new ErrorResponse("the Host header must be this device's address (or localhost); set Http:Token to allow names"), HttpJson.Default.ErrorResponse);
                return;
            }
            if (!HttpMethods.IsGet(ctx.Request.Method) && !HttpMethods.IsHead(ctx.Request.Method)
                && ctx.Request.Headers.Origin.ToString() is { Length: > 0 } origin && !SameOrigin(origin, ctx.Request.Host))
            {
                ctx.Response.StatusCode = StatusCodes.Status403Forbidden;
                await ctx.Response.WriteAsJsonAsync(new ErrorResponse("cross-site requests are refused"), HttpJson.Default.ErrorResponse);
                return;
            }
            await next(ctx);
        });
        if (!open)
        {
            var expected = Encoding.UTF8.GetBytes("Bearer " + token!);
            app.Use(async (ctx, next) =>
            {
                if (ctx.Request.Path == "/healthz" || ctx.Request.Path == "/" || ctx.Request.Path.StartsWithSegments("/page"))
                {
                    await next(ctx);
                    return;
                }
                var given = Encoding.UTF8.GetBytes(ctx.Request.Headers.Authorization.ToString());
                if (!System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(given, expected))
                {
                    ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    ctx.Response.Headers.WWWAuthenticate = "Bearer";
                    await ctx.Response.WriteAsJsonAsync(new ErrorResponse("missing or wrong bearer token"), HttpJson.Default.ErrorResponse);
                    return;
                }
                await next(ctx);
            });
        }

        app.MapGet("/healthz", () =>
        {
            var problems = cameras.Health();
            return problems.Count == 0
                ? Results.Text("ok\n")
                : Results.Text(string.Concat(problems.Select(p => p + "\n")), "text/plain; charset=utf-8", statusCode: StatusCodes.Status503ServiceUnavailable);
        });
        app.MapGet("/api/status", () => Results.Json(Status(cameras, uploads, updates, !open, webhooks), HttpJson.Default.StatusResponse));
        app.MapGet("/api/model", () => Results.Json(Model(cameras.Models, updates, !open), HttpJson.Default.ModelSummary));
        app.MapGet("/api/model/events", (int? limit) =>
        {
            if (limit is < 1 or > Storage.ResultStore.MaxModelEvents) return Error($"limit must be 1..{Storage.ResultStore.MaxModelEvents}", 400);
            if (cameras.Store is not { } store) return Error("results are not recorded (Store:Enabled=false); GET /api/model shows the recent events", 404);
            try { return Results.Json(new ModelEventsResponse(store.ModelEvents(limit ?? 100)), HttpJson.Default.ModelEventsResponse); }
            catch (Storage.StoreUnavailableException e) { return Error(e.Message, 503); }
        });
        app.MapPost("/api/model", async (HttpContext ctx, string? sha256, CancellationToken ct) =>
        {
            // Replacing the model is the one request that changes what the device decides: it needs the token even on loopback.
            if (open) return Error("model updates over HTTP need Http:Token to be set (or drop the file into Model:Updates:Folder)", 403);
            if (updates is null) return Error("model updates are off (Model:Updates:Enabled=false)", 404);
            // The model's own size limit, not the image uploads' (checked before the body is read).
            if (ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
                limit.MaxRequestBodySize = updates.MaxBytes;
            if (ctx.Request.ContentLength > updates.MaxBytes)
                return Error($"the model is larger than Model:Updates:MaxMb ({updates.MaxBytes / (1024 * 1024)} MiB)", 413);
            // A place first, so that bodies held in memory while earlier candidates are checked are bounded in number.
            if (!updates.TryReserve())
            {
                ctx.Response.Headers.RetryAfter = "5";
                return Error($"busy: {Models.ModelUpdater.MaxWaiting} models are already being checked; try again shortly", 503);
            }
            try
            {
                byte[] bytes;
                try
                {
                    using var read = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    read.CancelAfter(TimeSpan.FromSeconds(120));
                    if (ctx.Request.ContentLength is { } length)
                    {
                        // The declared length, read exactly (Kestrel refuses a body that does not match it).
                        bytes = new byte[length];
                        await ctx.Request.Body.ReadExactlyAsync(bytes, read.Token);
                    }
                    else
                    {
                        using var body = new MemoryStream();
                        await ctx.Request.Body.CopyToAsync(body, read.Token);
                        bytes = body.ToArray();
                    }
                }
                catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
                {
                    return Error($"the model is larger than Model:Updates:MaxMb ({updates.MaxBytes / (1024 * 1024)} MiB)", 413);
                }
                catch (Exception e) when (e is OperationCanceledException or BadHttpRequestException or IOException)
                {
                    return Error("the model was not received in full", 400);
                }
                if (bytes.Length == 0) return Error("the request has no body; POST the .onnx file's bytes", 400);
                Models.ModelUpdateOutcome outcome;
                try
                {
                    outcome = await updates.SubmitAsync(bytes, sha256, $"http: {ctx.Connection.RemoteIpAddress}", ct);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
                {
                    return Error("edged is stopping", 503);
                }
                var response = new ModelUpdateResponse(outcome.Outcome, outcome.Model, outcome.Reason, cameras.Models.ProbationFrames);
                return Results.Json(response, HttpJson.Default.ModelUpdateResponse,
                    statusCode: outcome.Outcome == Models.ModelUpdateOutcome.Refused ? StatusCodes.Status422UnprocessableEntity : StatusCodes.Status200OK);
            }
            finally
            {
                updates.ReleaseReservation();
            }
        });
        app.MapGet("/api/results", (long? after, string? since, int? limit) =>
        {
            DateTimeOffset? from = null;
            if (since is not null)
            {
                if (!DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
                    return Error($"since='{Onnx.Metadata.ModelSettings.Clip(since)}' is not a date/time (ISO 8601)", 400);
                from = t;
            }
            if (limit is < 1 or > 10_000) return Error("limit must be 1..10000", 400);
            if (cameras.Store is not { } store) return Error("results are not recorded (Store:Enabled=false)", 404);
            try
            {
                var rows = store.Query(after, from, limit ?? 100);
                return Results.Json(new ResultsResponse(rows, rows.Count > 0 ? rows[^1].Id : after ?? 0), HttpJson.Default.ResultsResponse);
            }
            catch (Storage.StoreUnavailableException e)
            {
                return Error(e.Message, 503);
            }
        });
        app.MapGet("/api/events", (long? after, int? limit) =>
        {
            if (limit is < 1 or > 10_000) return Error("limit must be 1..10000", 400);
            if (after is < 0) return Error("after must be 0 or more", 400);
            if (cameras.Store is not { } store)
            {
                // Without a store the recent events in memory are all there is (no ids to page with).
                var recent = RecentEvents(cameras).TakeLast(limit ?? 100).Select((e, i) => new Storage.StoredEvent(0, e.Time, e.Camera, e.Region, e.From, e.To, e.Score, e.Top, e.Frame, e.Model, e.Snapshot, e.Clip)).ToList();
                return Results.Json(new EventsResponse(recent, 0), HttpJson.Default.EventsResponse);
            }
            try
            {
                var rows = store.Events(after, limit ?? 100);
                return Results.Json(new EventsResponse(rows, rows.Count > 0 ? rows[^1].Id : after ?? 0), HttpJson.Default.EventsResponse);
            }
            catch (Storage.StoreUnavailableException e)
            {
                return Error(e.Message, 503);
            }
        });
        app.MapGet("/api/clips/{file}", (string file) =>
        {
            // Cameras' clips share one folder: any camera's recorder knows the names.
            if (primary.Settings.Clips is not { } clips) return Error("clips are off (Clips:Folder)", 404);
            if (clips.PathOf(file) is not { } path) return Error("no such clip (it is written once its PostSeconds have passed)", 404);
            // Streamed from the file: a clip can be BufferMb large.
            return Results.File(path, file.EndsWith(".json", StringComparison.Ordinal) ? "application/json" : "video/x-motion-jpeg");
        });
        app.MapGet("/api/snapshots/{name}", (string name) =>
        {
            if (primary.Settings.Snapshots is not { } snapshots) return Error("snapshots are off (Actions:Snapshots:Folder)", 404);
            if (snapshots.PathOf(name) is not { } path) return Error("no such snapshot", 404);
            return Results.File(path, "image/jpeg"); // streamed; a snapshot deleted by retention meanwhile ends the response
        });
        app.MapGet("/api/frame/latest.jpg", (string? camera) =>
        {
            if ((camera is null ? primary : cameras.Find(camera)) is not { } c) return Error(UnknownCamera(cameras, camera!), 404);
            return c.LatestFrame() is { } jpeg ? Results.File(jpeg, "image/jpeg") : Error("no frame yet", 404);
        });
        app.MapPost("/api/classify", async (HttpRequest request, HttpResponse response, CancellationToken ct) =>
        {
            if (uploads is null) return Error("uploads are off (Http:MaxQueuedUploads=0)", 404);
            // A place in the queue first, so that waiting bodies are bounded in memory as well as in number.
            if (!uploads.TryReserve())
            {
                response.Headers.RetryAfter = "1";
                return Error($"busy: {uploads.Capacity} uploads are waiting; try again shortly", 503);
            }
            var submitted = false;
            try
            {
                using var body = new MemoryStream();
                using (var read = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    read.CancelAfter(TimeSpan.FromSeconds(30));
                    await request.Body.CopyToAsync(body, read.Token);
                }
                if (body.Length == 0) return Error("the request has no body; POST the image bytes", 400);
                submitted = true;
                var outcome = await uploads.ClassifyAsync(body.GetBuffer(), (int)body.Length, ct);
                return outcome.Top is { } top
                    ? Results.Json(new ClassifyResponse(top, Math.Round(outcome.LatencyMs, 3)), HttpJson.Default.ClassifyResponse)
                    : Error(outcome.Error ?? "failed", outcome.Status);
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return Error($"the image is larger than Http:MaxUploadBytes ({options.Http.MaxUploadBytes} bytes)", 413);
            }
            catch (Exception e) when (e is OperationCanceledException or BadHttpRequestException or IOException)
            {
                return Error("the upload was not received in full", 400);
            }
            finally
            {
                if (!submitted) uploads.Release();
            }
        });
        app.MapPost("/api/trigger", (HttpResponse response, string? camera) =>
        {
            // One camera (?camera=NAME) or all of them.
            IReadOnlyList<CameraPipeline> targets = camera is null ? cameras.Cameras : cameras.Find(camera) is { } c ? [c] : [];
            if (targets.Count == 0) return Error(UnknownCamera(cameras, camera!), 404);
            var refused = targets.Where(t => !t.Trigger()).Select(t => t.CameraName).ToList();
            if (refused.Count == targets.Count)
            {
                response.Headers.RetryAfter = "1";
                return Error($"busy: {CameraPipeline.MaxPendingTriggerFrames} triggered frames are already waiting", 429);
            }
            // Frames: each camera that took the trigger classifies its own burst.
            var took = targets.Where(t => !refused.Contains(t.CameraName)).ToList();
            return Results.Json(new TriggerResponse("triggered", took.Sum(t => t.Burst), [.. took.Select(t => t.CameraName)]), HttpJson.Default.TriggerResponse,
                statusCode: 202);
        });
        app.MapGet("/metrics", () => Results.Text(Metrics(cameras, uploads, inputs, updates, webhooks), "text/plain; version=0.0.4; charset=utf-8"));
        var page = PageFile("index.html");
        var script = PageFile("app.js");
        var style = PageFile("style.css");
        app.MapGet("/", () => Results.Bytes(page, "text/html; charset=utf-8"));
        app.MapGet("/page/app.js", () => Results.Bytes(script, "text/javascript; charset=utf-8"));
        app.MapGet("/page/style.css", () => Results.Bytes(style, "text/css; charset=utf-8"));
        return app;
    }

    /// <summary>Most connections at once, and from one remote address (loopback excepted: it is this machine).</summary>
    public const int MaxConnections = 1000, PerAddressConnections = 64;

    internal static bool IsAddressHost(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || System.Net.IPAddress.TryParse(host.Trim('[', ']'), out _);

    private static bool SameOrigin(string origin, HostString host) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var o) && string.Equals(o.Authority, host.Value, StringComparison.OrdinalIgnoreCase);

    private static IResult Error(string message, int status) => Results.Json(new ErrorResponse(message), HttpJson.Default.ErrorResponse, statusCode: status);

    /// <summary>A camera name that is not one, said with the names there are (the name is the caller's: clipped, never HTML).</summary>
    private static string UnknownCamera(CameraSet cameras, string name) =>
        $"no camera '{Onnx.Metadata.ModelSettings.Clip(name)}' (cameras: {string.Join(", ", cameras.Cameras.Select(c => c.CameraName))})";

    /// <summary>Every camera's recent state changes, oldest first.</summary>
    private static List<Storage.StateEventRecord> RecentEvents(CameraSet cameras) =>
        cameras.Cameras.Count == 1 ? [.. cameras.Primary.RecentEvents] : [.. cameras.Cameras.SelectMany(c => c.RecentEvents).OrderBy(e => e.Time)];

    public static ModelSummary Model(Models.ModelSwitch models, Models.ModelUpdater? updates = null, bool api = false)
    {
        var s = models.State;
        var c = models.Current.Camera;
        var m = c.Model;
        return new ModelSummary(m.Path, string.Join("x", m.InputShape(1)), m.ClassCount, c.ExecutionProviders, c.Options.EffectiveIntraOpThreads,
            s.Current.Sha256, s.Current.Version, s.Current.Origin, s.Current.LoadedAt,
            s.OnProbation ? new ProbationSummary(s.ProbationClassified, s.ProbationFailures, s.ProbationFrames, models.RollbackFailures) : null,
            s.Previous,
            new ModelUpdatesSummary(updates is not null, updates?.Folder, updates is not null && api, updates?.Accepted ?? 0, updates?.Refused ?? 0, updates?.RolledBack ?? 0,
                s.Pending, updates?.Recent ?? []),
            Int8WeightsSummary.Of(m.Int8Weights, exactHere: c.Int8Warning is null), c.Int8Warning);
    }

    public static StatusResponse Status(CameraSet cameras, UploadClassifier? uploads = null, Models.ModelUpdater? updates = null, bool modelApi = false,
        IReadOnlyList<Webhooks.WebhookSender>? webhooks = null)
    {
        var p = cameras.Primary;
        var c = p.Counters;
        var problems = cameras.Health();
        var (p50, p90, p99, n) = p.Latency.Percentiles();
        var latest = p.Latest;
        var store = cameras.Store;
        return new StatusResponse(
            typeof(StatusServer).Assembly.GetName().Version?.ToString(3) ?? "0",
            Math.Round((DateTimeOffset.UtcNow - p.StartedAt).TotalSeconds, 1),
            new HealthSummary(problems.Count == 0, problems),
            Model(cameras.Models, updates, modelApi),
            p.Source, p.Mode.ToString().ToLowerInvariant(), c.FramesCaptured, c.FramesDropped, c.FramesClassified, c.CorruptFrames,
            c.InferenceErrors, c.LastInferenceError, p.MotionEvents,
            Math.Round(p.Latency.Rate(), 2),
            new LatencySummary(Math.Round(p50, 3), Math.Round(p90, 3), Math.Round(p99, 3), n),
            new StageSummary(Math.Round(p.DecodeTimes.Percentiles().P50, 3), Math.Round(p.PreprocessTimes.Percentiles().P50, 3),
                Math.Round(p.InferTimes.Percentiles().P50, 3), Math.Round(p.PostTimes.Percentiles().P50, 3)),
            [.. p.Latency.Recent(60).Select(v => Math.Round(v, 3))],
            latest is null ? null : new LatestSummary(latest.Sequence, latest.Time, latest.Trigger, latest.Top, Math.Round(latest.LatencyMs, 3)),
            new StoreSummary(store is not null, store?.Path, store?.IsOpen ?? false, c.StorePending, store?.Written ?? 0, c.StoreLost, c.StoreError),
            new UploadSummary(uploads is not null, uploads?.Queued ?? 0, uploads?.Capacity ?? 0, uploads?.Completed ?? 0, uploads?.Rejected ?? 0, uploads?.Failed ?? 0),
            p.CameraName, p.Regions, Decision(cameras), [.. RecentEvents(cameras).TakeLast(20)], [.. (webhooks ?? []).Select(w => w.Status)],
            c.FramesSkipped, p.Settings.Lossless ? 0 : p.Settings.MaxRate,
            new ClipsSummary(p.Settings.Clips is not null, p.Settings.Clips?.Folder, cameras.Cameras.Sum(x => x.Settings.Clips?.Saved ?? 0),
                cameras.Cameras.Sum(x => x.Settings.Clips?.Failed ?? 0)),
            [.. cameras.Cameras.Select(x => Camera(x, cameras.Models))]);
    }

    private static CameraSummary Camera(CameraPipeline p, Models.ModelSwitch shared)
    {
        var c = p.Counters;
        var problems = p.Health();
        var (p50, p90, p99, n) = p.Latency.Percentiles();
        var (c50, c90, c99, cn) = p.CaptureToResult.Percentiles();
        return new CameraSummary(p.CameraName, new HealthSummary(problems.Count == 0, problems), p.Source, p.Mode.ToString().ToLowerInvariant(),
            p.Settings.Lossless ? 0 : p.Settings.MaxRate, c.FramesCaptured, c.FramesClassified, c.FramesSkipped, c.FramesDropped, c.CorruptFrames, c.InferenceErrors,
            Math.Round(p.Latency.Rate(), 2), new LatencySummary(Math.Round(p50, 3), Math.Round(p90, 3), Math.Round(p99, 3), n),
            new LatencySummary(Math.Round(c50, 3), Math.Round(c90, 3), Math.Round(c99, 3), cn), p.Models.Current.Identity.Short, p.Models != shared,
            p.Regions, [.. p.RecentEvents.TakeLast(20)], p.StateChanges);
    }

    private static DecisionSummary Decision(CameraSet cameras)
    {
        var d = cameras.Primary.Settings.Decision;
        return new DecisionSummary(d.MinScore, d.MinMargin, d.Classes, d.Consecutive, d.LeaveScore, d.MinStateMs, cameras.Cameras.Sum(c => c.StateChanges));
    }

    /// <summary>Prometheus text exposition format 0.0.4.</summary>
    /// <summary>A label value as the Prometheus text format needs it: backslash, quote and line feed escaped.</summary>
    internal static string PrometheusLabel(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    public static string Metrics(CameraPipeline p, UploadClassifier? uploads = null, Triggers.GpioEdgeTrigger? edge = null, Models.ModelUpdater? updates = null,
        IReadOnlyList<Webhooks.WebhookSender>? webhooks = null) => Metrics(new CameraSet(p), uploads, new Triggers.TriggerInputs(edge is null ? [] : [edge], []), updates, webhooks);

    /// <summary>Prometheus text exposition format 0.0.4. What each camera does carries a <c>camera</c> label; what the daemon does has none.</summary>
    public static string Metrics(CameraSet cameras, UploadClassifier? uploads = null, Triggers.TriggerInputs? inputs = null,
        Models.ModelUpdater? updates = null, IReadOnlyList<Webhooks.WebhookSender>? webhooks = null)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        var all = cameras.Cameras.Select(p => (Camera: $"camera=\"{PrometheusLabel(p.CameraName)}\"", Pipeline: p, Counters: p.Counters, Source: p.Source)).ToList();
        void Metric(string name, string type, string help, FormattableString value)
        {
            sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            sb.Append(value.ToString(inv)).Append('\n');
        }
        // One line per camera: name{camera="..."} value.
        void PerCamera(string name, string type, string help, Func<(string Camera, CameraPipeline Pipeline, PipelineCounters Counters, Capture.SourceStatus Source), double> value) =>
            Metric(name, type, help, $"{string.Join("\n", all.Select(c => string.Create(inv, $"{name}{{{c.Camera}}} {value(c)}")))}");
        PerCamera("edged_frames_captured_total", "counter", "Frames received from the camera's source.", c => c.Counters.FramesCaptured);
        PerCamera("edged_frames_dropped_total", "counter", "Frames dropped because inference was busy.", c => c.Counters.FramesDropped);
        PerCamera("edged_frames_classified_total", "counter", "Frames classified.", c => c.Counters.FramesClassified);
        PerCamera("edged_frames_skipped_total", "counter", "Frames not classified because none was due (rate limit, no motion, no trigger).", c => c.Counters.FramesSkipped);
        PerCamera("edged_frames_corrupt_total", "counter", "Frames that did not decode.", c => c.Counters.CorruptFrames);
        PerCamera("edged_inference_errors_total", "counter", "Classifications that failed (model error, non-finite scores).", c => c.Counters.InferenceErrors);
        Metric("edged_healthy", "gauge", "1 when nothing keeps edged from doing its job (see /healthz).", $"edged_healthy {(cameras.Health().Count == 0 ? 1 : 0)}");
        PerCamera("edged_camera_healthy", "gauge", "1 when nothing keeps this camera from doing its job.", c => c.Pipeline.Health().Count == 0 ? 1 : 0);
        PerCamera("edged_motion_events_total", "counter", "Frames in which motion was seen.", c => c.Pipeline.MotionEvents);
        PerCamera("edged_source_reconnects_total", "counter", "Times the source was reopened.", c => c.Source.Reconnects);
        PerCamera("edged_source_garbage_bytes_total", "counter", "Bytes from the source that were not part of a frame.", c => c.Source.GarbageBytes);
        PerCamera("edged_source_up", "gauge", "1 while the source delivers frames.", c => c.Source.State == Capture.SourceState.Running ? 1 : 0);
        var c0 = cameras.Primary.Counters;
        Metric("edged_store_pending", "gauge", "Results waiting to be written.", $"edged_store_pending {c0.StorePending}");
        Metric("edged_store_lost_total", "counter", "Results that could not be kept.", $"edged_store_lost_total {c0.StoreLost}");
        Metric("edged_uploads_total", "counter", "Uploaded images classified.", $"edged_uploads_total {uploads?.Completed ?? 0}");
        Metric("edged_uploads_rejected_total", "counter", "Uploads refused because the queue was full.", $"edged_uploads_rejected_total {uploads?.Rejected ?? 0}");
        var edges = inputs?.Edges ?? [];
        if (edges.Count > 0)
            Metric("edged_gpio_trigger_edges_total", "counter", "GPIO trigger edges: accepted (a classification), ignored (within the debounce time) or refused (the trigger queue was full).",
                $"{string.Join("\n", edges.Select(e => string.Create(inv, $"edged_gpio_trigger_edges_total{{pin=\"{e.Pin}\",result=\"accepted\"}} {e.Accepted}\nedged_gpio_trigger_edges_total{{pin=\"{e.Pin}\",result=\"ignored\"}} {e.Ignored}\nedged_gpio_trigger_edges_total{{pin=\"{e.Pin}\",result=\"refused\"}} {e.Refused}")))}");
        if (inputs?.Pirs is { Count: > 0 } pirs)
            Metric("edged_pir_motion_total", "counter", "PIR sensor rises: accepted (a classification) or refused (the trigger queue was full).",
                $"{string.Join("\n", pirs.Select(e => string.Create(inv, $"edged_pir_motion_total{{pin=\"{e.Pin}\",result=\"accepted\"}} {e.Accepted}\nedged_pir_motion_total{{pin=\"{e.Pin}\",result=\"refused\"}} {e.Refused}")))}");
        var rules = cameras.Cameras.SelectMany(c => c.Settings.Rules).Distinct().ToList();
        if (rules.Count > 0)
            Metric("edged_gpio_output_pulses_total", "counter", "Results that matched an output rule (each raised its pin or extended its pulse).",
                $"{string.Join("\n", rules.Select(r => string.Create(inv, $"edged_gpio_output_pulses_total{{pin=\"{r.Pin}\",label=\"{PrometheusLabel(r.Label)}\"}} {r.Fired}")))}");
        var regions = all.SelectMany(c => c.Pipeline.Regions.Select(r => (c.Camera, Region: r))).ToList();
        Metric("edged_region_results_total", "counter", "Results per region (a frame classified gives one per region).",
            $"{string.Join("\n", regions.Select(r => string.Create(inv, $"edged_region_results_total{{{r.Camera},region=\"{r.Region.Name}\"}} {r.Region.Classified}")))}");
        Metric("edged_region_state_changes_total", "counter", "State changes per region (see /api/events).",
            $"{string.Join("\n", regions.Select(r => string.Create(inv, $"edged_region_state_changes_total{{{r.Camera},region=\"{r.Region.Name}\"}} {r.Region.StateChanges}")))}");
        if (regions.Any(r => r.Region.State is not null))
            Metric("edged_region_state", "gauge", "The current state of each region (1; a class, or unknown); regions without a decision yet are left out.",
                $"{string.Join("\n", regions.Where(r => r.Region.State is not null).Select(r => $"edged_region_state{{{r.Camera},region=\"{r.Region.Name}\",state=\"{PrometheusLabel(r.Region.State!)}\"}} 1"))}");
        if (webhooks is { Count: > 0 })
        {
            var hooks = webhooks.Select((w, i) => (Label: $"webhook=\"{i}\"", Status: w.Status)).ToList();
            Metric("edged_webhook_deliveries_total", "counter", "State changes delivered per webhook (by its index in Webhooks).",
                $"{string.Join("\n", hooks.Select(h => string.Create(inv, $"edged_webhook_deliveries_total{{{h.Label}}} {h.Status.Delivered}")))}");
            var resultHooks = hooks.Where(h => h.Status.Results.Count > 0).ToList();
            if (resultHooks.Count > 0)
            {
                Metric("edged_webhook_result_deliveries_total", "counter", "Results of the classes a webhook asked for (Webhooks:N:Results) delivered per webhook.",
                    $"{string.Join("\n", resultHooks.Select(h => string.Create(inv, $"edged_webhook_result_deliveries_total{{{h.Label}}} {h.Status.ResultsDelivered}")))}");
                Metric("edged_webhook_result_pending", "gauge", "Results written since the last one a webhook looked at (an upper bound: not all are of its classes).",
                    $"{string.Join("\n", resultHooks.Select(h => string.Create(inv, $"edged_webhook_result_pending{{{h.Label}}} {h.Status.ResultsPending}")))}");
                Metric("edged_webhook_result_lost_total", "counter", "Results deleted by retention before a webhook looked at them (an upper bound: not all were of its classes).",
                    $"{string.Join("\n", resultHooks.Select(h => string.Create(inv, $"edged_webhook_result_lost_total{{{h.Label}}} {h.Status.ResultsLost}")))}");
            }
            Metric("edged_webhook_failed_attempts_total", "counter", "Delivery attempts that failed (each retried).",
                $"{string.Join("\n", hooks.Select(h => string.Create(inv, $"edged_webhook_failed_attempts_total{{{h.Label}}} {h.Status.FailedAttempts}")))}");
            Metric("edged_webhook_pending", "gauge", "State changes waiting to be delivered.",
                $"{string.Join("\n", hooks.Select(h => string.Create(inv, $"edged_webhook_pending{{{h.Label}}} {h.Status.Pending}")))}");
            Metric("edged_webhook_lost_total", "counter", "State changes skipped (refused by the receiver) or deleted by retention before delivery.",
                $"{string.Join("\n", hooks.Select(h => string.Create(inv, $"edged_webhook_lost_total{{{h.Label}}} {h.Status.Skipped + h.Status.Lost}")))}");
        }
        var model = cameras.Models.State;
        Metric("edged_model_info", "gauge", "The running model (1): its SHA-256 (first 12 hex digits) and version.",
            $"edged_model_info{{sha256=\"{model.Current.Short}\",version=\"{PrometheusLabel(model.Current.Version ?? "")}\",origin=\"{PrometheusLabel(model.Current.Origin)}\"}} 1");
        Metric("edged_model_on_probation", "gauge", "1 while a newly swapped-in model is on probation (the previous one is kept loaded).",
            $"edged_model_on_probation {(model.OnProbation ? 1 : 0)}");
        if (updates is not null)
            Metric("edged_model_updates_total", "counter", "Model updates by outcome: accepted (checked and swapped in), refused (the running model went on), rolled back (failed on probation).",
                $"edged_model_updates_total{{result=\"accepted\"}} {updates.Accepted}\nedged_model_updates_total{{result=\"refused\"}} {updates.Refused}\nedged_model_updates_total{{result=\"rolled_back\"}} {updates.RolledBack}");
        Metric("edged_uptime_seconds", "gauge", "Seconds since start.", $"edged_uptime_seconds {(DateTimeOffset.UtcNow - cameras.Primary.StartedAt).TotalSeconds:0.###}");
        // Prometheus wants base units: seconds.
        sb.Append("# HELP edged_inference_latency_seconds Decode to top-k latency: quantiles over the last classifications, sum and count since start.\n");
        sb.Append("# TYPE edged_inference_latency_seconds summary\n");
        foreach (var (camera, p, _, _) in all)
        {
            var (p50, p90, p99, _) = p.Latency.Percentiles();
            var (sumMs, count) = p.Latency.Cumulative;
            sb.Append(inv, $"edged_inference_latency_seconds{{{camera},quantile=\"0.5\"}} {p50 / 1000:0.######}\n");
            sb.Append(inv, $"edged_inference_latency_seconds{{{camera},quantile=\"0.9\"}} {p90 / 1000:0.######}\n");
            sb.Append(inv, $"edged_inference_latency_seconds{{{camera},quantile=\"0.99\"}} {p99 / 1000:0.######}\n");
            sb.Append(inv, $"edged_inference_latency_seconds_sum{{{camera}}} {sumMs / 1000:0.######}\n");
            sb.Append(inv, $"edged_inference_latency_seconds_count{{{camera}}} {count}\n");
        }
        return sb.ToString();
    }

    private static byte[] PageFile(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("page/" + name)
            ?? throw new InvalidOperationException($"the page file {name} is missing from the build");
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        return ms.ToArray();
    }
}
