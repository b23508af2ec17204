using System.Globalization;
using System.Reflection;
using System.Text;
using Edge.Core.Imaging;
using Edge.Daemon.Configuration;
using Edge.Daemon.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Http;

/// <summary>
/// The local HTTP API and live page (ASP.NET Core slim builder, source-generated JSON). Bound to
/// loopback by default; any other address requires the bearer token (checked on everything but
/// /healthz).
/// </summary>
public static class StatusServer
{
    public static WebApplication Build(ClassificationPipeline pipeline, EdgedOptions options, ILoggerProvider? logs = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls(options.Http.Url);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.Http.MaxUploadBytes);
        builder.Logging.ClearProviders();
        if (logs is not null) builder.Logging.AddProvider(logs);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Services.ConfigureHttpJsonOptions(j => j.SerializerOptions.TypeInfoResolverChain.Insert(0, HttpJson.Default));
        var app = builder.Build();

        var token = options.Http.Token;
        if (!string.IsNullOrEmpty(token))
        {
            var expected = Encoding.UTF8.GetBytes("Bearer " + token);
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

        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/api/status", () => Results.Json(Status(pipeline), HttpJson.Default.StatusResponse));
        app.MapGet("/api/results", (long? after, string? since, int? limit) =>
        {
            DateTimeOffset? from = null;
            if (since is not null)
            {
                if (!DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
                    return Results.Json(new ErrorResponse($"since='{since}' is not a date/time (ISO 8601)"), HttpJson.Default.ErrorResponse, statusCode: 400);
                from = t;
            }
            if (limit is < 1 or > 10_000)
                return Results.Json(new ErrorResponse("limit must be 1..10000"), HttpJson.Default.ErrorResponse, statusCode: 400);
            var rows = pipeline.Query(after ?? 0, from, limit ?? 100);
            return Results.Json(new ResultsResponse(rows, rows.Count > 0 ? rows[^1].Id : after ?? 0), HttpJson.Default.ResultsResponse);
        });
        app.MapGet("/api/frame/latest.jpg", () => pipeline.LatestFrame() is { } jpeg
            ? Results.File(jpeg, "image/jpeg")
            : Results.Json(new ErrorResponse("no frame yet"), HttpJson.Default.ErrorResponse, statusCode: 404));
        app.MapPost("/api/classify", async (HttpRequest request, CancellationToken ct) =>
        {
            byte[] body;
            try
            {
                using var ms = new MemoryStream();
                await request.Body.CopyToAsync(ms, ct);
                body = ms.ToArray();
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return Results.Json(new ErrorResponse($"the image is larger than Http:MaxUploadBytes ({options.Http.MaxUploadBytes} bytes)"), HttpJson.Default.ErrorResponse, statusCode: 413);
            }
            try
            {
                var (top, ms2) = await pipeline.ClassifyAsync(body, ct);
                return Results.Json(new ClassifyResponse(top, ms2), HttpJson.Default.ClassifyResponse);
            }
            catch (ImageDecodeException e)
            {
                return Results.Json(new ErrorResponse(e.Message), HttpJson.Default.ErrorResponse, statusCode: 400);
            }
        });
        app.MapPost("/api/trigger", () =>
        {
            pipeline.Trigger();
            return Results.Json(new TriggerResponse("triggered", 1), HttpJson.Default.TriggerResponse, statusCode: 202);
        });
        app.MapGet("/metrics", () => Results.Text(Metrics(pipeline), "text/plain; version=0.0.4; charset=utf-8"));
        app.MapGet("/", () => Page("index.html", "text/html; charset=utf-8"));
        return app;
    }

    public static StatusResponse Status(ClassificationPipeline p)
    {
        var c = p.Counters;
        var (p50, p90, p99, n) = p.Latency.Percentiles();
        var m = p.Classifier.Model;
        var latest = p.Latest;
        return new StatusResponse(
            typeof(StatusServer).Assembly.GetName().Version?.ToString(3) ?? "0",
            Math.Round((DateTimeOffset.UtcNow - p.StartedAt).TotalSeconds, 1),
            new ModelSummary(m.Path, string.Join("x", m.InputShape(1)), m.ClassCount, p.Classifier.ExecutionProviders, p.Classifier.Options.EffectiveIntraOpThreads),
            p.Source, p.Mode.ToString().ToLowerInvariant(), c.FramesCaptured, c.FramesDropped, c.FramesClassified, c.CorruptFrames, p.MotionEvents,
            Math.Round(p.Latency.Rate(), 2),
            new LatencySummary(Math.Round(p50, 3), Math.Round(p90, 3), Math.Round(p99, 3), n),
            new StageSummary(Math.Round(p.DecodeTimes.Percentiles().P50, 3), Math.Round(p.PreprocessTimes.Percentiles().P50, 3),
                Math.Round(p.InferTimes.Percentiles().P50, 3), Math.Round(p.PostTimes.Percentiles().P50, 3)),
            [.. p.Latency.Recent(60).Select(v => Math.Round(v, 3))],
            latest is null ? null : new LatestSummary(latest.Sequence, latest.Time, latest.Trigger, latest.Top, Math.Round(latest.LatencyMs, 3)),
            new StoreSummary(p.StorePath, c.StorePending, c.StoreLost, c.StoreError));
    }

    /// <summary>Prometheus text exposition format 0.0.4.</summary>
    public static string Metrics(ClassificationPipeline p)
    {
        var c = p.Counters;
        var s = p.Source;
        var (p50, p90, p99, n) = p.Latency.Percentiles();
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        void Metric(string name, string type, string help, FormattableString value)
        {
            sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            sb.Append(value.ToString(inv)).Append('\n');
        }
        Metric("edged_frames_captured_total", "counter", "Frames received from the source.", $"edged_frames_captured_total {c.FramesCaptured}");
        Metric("edged_frames_dropped_total", "counter", "Frames dropped because inference was busy.", $"edged_frames_dropped_total {c.FramesDropped}");
        Metric("edged_frames_classified_total", "counter", "Frames classified.", $"edged_frames_classified_total {c.FramesClassified}");
        Metric("edged_frames_corrupt_total", "counter", "Frames that did not decode.", $"edged_frames_corrupt_total {c.CorruptFrames}");
        Metric("edged_motion_events_total", "counter", "Frames in which motion was seen.", $"edged_motion_events_total {p.MotionEvents}");
        Metric("edged_source_reconnects_total", "counter", "Times the source was reopened.", $"edged_source_reconnects_total {s.Reconnects}");
        Metric("edged_source_garbage_bytes_total", "counter", "Bytes from the source that were not part of a frame.", $"edged_source_garbage_bytes_total {s.GarbageBytes}");
        Metric("edged_source_up", "gauge", "1 while the source delivers frames.", $"edged_source_up {(s.State == Capture.SourceState.Running ? 1 : 0)}");
        Metric("edged_store_pending", "gauge", "Results waiting to be written.", $"edged_store_pending {c.StorePending}");
        Metric("edged_store_lost_total", "counter", "Results that could not be kept.", $"edged_store_lost_total {c.StoreLost}");
        Metric("edged_uptime_seconds", "gauge", "Seconds since start.", $"edged_uptime_seconds {(DateTimeOffset.UtcNow - p.StartedAt).TotalSeconds:0.###}");
        // Prometheus wants base units: seconds.
        sb.Append("# HELP edged_inference_latency_seconds Decode to top-k latency over the last classifications.\n");
        sb.Append("# TYPE edged_inference_latency_seconds summary\n");
        sb.Append(inv, $"edged_inference_latency_seconds{{quantile=\"0.5\"}} {p50 / 1000:0.######}\n");
        sb.Append(inv, $"edged_inference_latency_seconds{{quantile=\"0.9\"}} {p90 / 1000:0.######}\n");
        sb.Append(inv, $"edged_inference_latency_seconds{{quantile=\"0.99\"}} {p99 / 1000:0.######}\n");
        sb.Append(inv, $"edged_inference_latency_seconds_sum {p.Latency.Recent(n).Sum() / 1000:0.######}\n");
        sb.Append(inv, $"edged_inference_latency_seconds_count {n}\n");
        return sb.ToString();
    }

    private static IResult Page(string name, string contentType)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("page/" + name);
        if (stream is null) return Results.NotFound();
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        return Results.Bytes(ms.ToArray(), contentType);
    }
}
