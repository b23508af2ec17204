using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Cli;
using Edge.Daemon.Models;
using Edge.Daemon.Storage;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Webhooks;

/// <summary>The JSON body of a webhook: one state change.</summary>
public sealed record WebhookEvent(long Id, string Delivery, string Camera, string Region, string? From, string To, float Score, IReadOnlyList<StoredPrediction> Scores,
    DateTimeOffset Time, long Frame, string? Model, string? Snapshot, string? SnapshotUrl, string? ClipUrl);

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata, PropertyNamingPolicy = JsonNaming.Policy, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(WebhookEvent))]
internal sealed partial class WebhookJson : JsonSerializerContext;

/// <summary>How one webhook's deliveries stand (status API and page).</summary>
public sealed record WebhookStatus(string Url, bool Signed, long Delivered, long Pending, long FailedAttempts, long Skipped, long Lost, string? LastError,
    DateTimeOffset? LastDeliveredAt, long LastDeliveredId);

/// <summary>
/// Sends the stored state changes to one URL, oldest first, one at a time: the events table is the queue and a cursor in
/// the same database says how far delivery got, so events wait through a receiver being down and a restart, and arrive in
/// order (at least once: a crash between the receiver's answer and the cursor's commit sends that event again; receivers
/// deduplicate on <c>X-Edge-Delivery</c>). Attempts time out, and failures are retried with growing, jittered waits. Not with
/// Polly, which issue 14 suggested: Polly.Core publishes AOT-clean, but with the options validation it brings (DataAnnotations,
/// TypeConverter) took 0.7 MB of the arm64 binary (17.18 MB with it, 16.45 MB without, clips added meanwhile), over the 17 MB it may have, for this one loop.
/// A slow or dead receiver delays only its own deliveries: the pipeline only writes events to the store.
/// </summary>
public sealed class WebhookSender
{
    private readonly WebhookOptions _options;
    private readonly ResultWriter _store;
    private readonly HttpClient _http;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly Uri _url;
    private readonly string _key;
    private readonly Lifecycle.SaidOnce _said = new();
    private long _delivered, _failed, _skipped, _lost, _lastId;
    private string? _lastError;
    private long _lastDeliveredTicks;
    private string? _instance;
    private readonly Uri _target;
    private readonly DateTimeOffset _createdAt;

    /// <summary>How often the store is looked at for new events when there are none.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// An HTTP client for webhooks: no redirects (a 301/302 would turn the POST into a GET whose 200 looks like a delivery),
    /// no cookies; each attempt's timeout is the sender's own.
    /// </summary>
    public static HttpClient CreateClient() => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false, UseCookies = false, MaxResponseDrainSize = 64 * 1024,
        // No connect timeout of its own: each attempt's TimeoutMs bounds the connect too.
        ConnectTimeout = Timeout.InfiniteTimeSpan,
        MaxResponseHeadersLength = 64,
    }) { Timeout = Timeout.InfiniteTimeSpan };

    public WebhookSender(WebhookOptions options, ResultWriter store, HttpClient http, ILogger logger, TimeProvider? clock = null)
    {
        _options = options;
        _store = store;
        _http = http;
        _logger = logger;
        _clock = clock ?? TimeProvider.System;
        _url = new Uri(options.Url);
        _target = _url.UserInfo.Length > 0 ? new UriBuilder(_url) { UserName = "", Password = "" }.Uri : _url;
        _createdAt = _clock.GetUtcNow();
        Display = Redacted(_url);
        // The cursor is keyed by the URL's hash: the database never holds a token from the URL's path, query or user part.
        _key = Sha256Hasher.Hex(System.Text.Encoding.UTF8.GetBytes(options.Url));
    }

    /// <summary>The URL as shown: without user name and password.</summary>
    public string Display { get; }

    public WebhookStatus Status => new(Display, !string.IsNullOrEmpty(_options.Secret), Interlocked.Read(ref _delivered),
        Math.Max(0, Newest() - Interlocked.Read(ref _lastId)), Interlocked.Read(ref _failed), Interlocked.Read(ref _skipped),
        Interlocked.Read(ref _lost), Volatile.Read(ref _lastError),
        Interlocked.Read(ref _lastDeliveredTicks) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null, Interlocked.Read(ref _lastId));

    /// <summary>The newest stored event, read now (a delivery that hangs must not freeze the backlog shown).</summary>
    private long Newest()
    {
        // The writer's figure, not a query: the status must not wait for the database's lock.
        return _store.LastEventId;
    }

    /// <summary>
    /// Delivers until <paramref name="ct"/> stops it (a delivery in progress is abandoned and sent again next time). An
    /// unexpected failure is said, shown in the status, and delivery starts again after a pause: it never ends silently.
    /// </summary>
    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await DeliverAllAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (!ct.IsCancellationRequested && e is not OutOfMemoryException)
            {
                var reason = $"{e.GetType().Name}: {Clip(e.Message)}";
                Volatile.Write(ref _lastError, reason);
                if (_said.First("crash:" + e.GetType().Name)) _logger.LogError("Webhook {Url}: delivery failed ({Reason}); starting again", Display, reason);
                try { await Task.Delay(TimeSpan.FromMilliseconds(_options.MaxBackoffMs), _clock, ct).ConfigureAwait(false); } catch (OperationCanceledException) { }
            }
        }
    }

    private async Task DeliverAllAsync(CancellationToken ct)
    {
        long cursor = -1;
        while (!ct.IsCancellationRequested)
        {
            List<StoredEvent> batch;
            try
            {
                if (cursor < 0)
                {
                    cursor = _store.Use(s => s.WebhookCursor(_key, _createdAt));
                    _instance ??= _store.Use(s => s.InstanceId());
                }
                Interlocked.Exchange(ref _lastId, cursor);
                var after = cursor;
                // Idle, nothing newer written: no query (the writer keeps the newest id).
                batch = _store.LastEventId > after ? _store.Use(s => s.Events(after, 100)) : [];
            }
            catch (StoreUnavailableException)
            {
                // The store is opening or paused (disk full): its writer says why; delivery waits for it.
                batch = [];
            }
            if (batch.Count == 0)
            {
                try { await Task.Delay(PollInterval, _clock, ct).ConfigureAwait(false); } catch (OperationCanceledException) { }
                continue;
            }
            if (batch[0].Id > cursor + 1 && cursor >= 0)
            {
                // Retention (Decision:MaxEvents) deleted events before they could be delivered.
                var gap = batch[0].Id - cursor - 1;
                Interlocked.Add(ref _lost, gap);
                _logger.LogError("Webhook {Url}: {Count} events were deleted by retention (Decision:MaxEvents) before they could be delivered", Display, gap);
            }
            foreach (var e in batch)
            {
                if (!await DeliverAsync(e, ct).ConfigureAwait(false)) return; // stopping
                cursor = e.Id;
                try { _store.Use(s => { s.SetWebhookCursor(_key, e.Id); return 0; }); }
                catch (StoreUnavailableException ex)
                {
                    // Sent but not remembered: sent again after a restart (at least once).
                    if (_said.First("cursor")) _logger.LogWarning("Webhook {Url}: cannot remember the delivery: {Reason}", Display, ex.Message);
                }
                Interlocked.Exchange(ref _lastId, e.Id);
            }
        }
    }

    private async Task<bool> DeliverAsync(StoredEvent e, CancellationToken ct)
    {
        var delivery = $"{_instance}-{e.Id}";
        var body = JsonSerializer.SerializeToUtf8Bytes(new WebhookEvent(e.Id, delivery, e.Camera, e.Region, e.From, e.To, e.Score, e.Top, e.Time, e.Frame, e.Model,
            e.Snapshot is null ? null : Path.GetFileName(e.Snapshot),
            e.Snapshot is null ? null : "/api/snapshots/" + Uri.EscapeDataString(Path.GetFileName(e.Snapshot)),
            e.Clip is null ? null : "/api/clips/" + Uri.EscapeDataString(e.Clip) + ".mjpeg"), WebhookJson.Default.WebhookEvent);
        var signature = string.IsNullOrEmpty(_options.Secret) ? null : HmacSha256.Signature(_options.Secret, body);
        var refusals = 0;
        for (var attempt = 0; ; attempt++)
        {
            string failure, kind;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromMilliseconds(_options.TimeoutMs));
                using var request = new HttpRequestMessage(HttpMethod.Post, _target) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                request.Headers.Add("X-Edge-Event", "state-change");
                // Unique across databases and devices (a random id kept in the database, then the event's id): receivers deduplicate on it.
                request.Headers.Add("X-Edge-Delivery", delivery);
                if (_url.UserInfo.Length > 0)
                    request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
                        Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(Uri.UnescapeDataString(_url.UserInfo))));
                if (signature is not null) request.Headers.Add("X-Edge-Signature-256", signature);
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                var code = (int)response.StatusCode;
                if (code is >= 200 and < 300)
                {
                    Delivered();
                    return true;
                }
                failure = Describe(response);
                kind = "HTTP " + code;
                // A refusal is the receiver saying this event is bad (400, 413, 415, 422): tried MaxRefusals times, then skipped.
                // Everything else (3xx, 401/403/404 while a receiver or its proxy restarts, 408, 429, 5xx) is retried until it works.
                if (code is 400 or 413 or 415 or 422 && ++refusals >= _options.MaxRefusals)
                {
                    Interlocked.Increment(ref _skipped);
                    Volatile.Write(ref _lastError, $"event {e.Id} skipped: {failure}");
                    if (_said.First("skipped:" + code))
                        _logger.LogError("Webhook {Url}: event {Id} refused {Count} times ({Reason}); skipped (counted in skipped; said once per status)", Display, e.Id, refusals, failure);
                    return true;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return false; // stopping: not delivered, not skipped; sent again next time
            }
            catch (OperationCanceledException)
            {
                (failure, kind) = ($"no answer within {_options.TimeoutMs} ms", "timeout");
            }
            catch (Exception x) when (x is HttpRequestException or IOException)
            {
                (failure, kind) = (Describe(x), x.GetType().Name);
            }
            Interlocked.Increment(ref _failed);
            Volatile.Write(ref _lastError, failure);
            if (_said.First(kind))
                _logger.LogWarning("Webhook {Url}: {Reason}; retrying (said once per kind; events wait in the results database)", Display, failure);
            try { await Task.Delay(Backoff(attempt), _clock, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return false; }
        }
    }

    private void Delivered()
    {
        Interlocked.Increment(ref _delivered);
        Interlocked.Exchange(ref _lastDeliveredTicks, _clock.GetUtcNow().UtcTicks);
        if (Volatile.Read(ref _lastError) is not null)
        {
            Volatile.Write(ref _lastError, null);
            _said.Reset(); // the next outage is news again
            _logger.LogInformation("Webhook {Url}: delivering again", Display);
        }
    }

    /// <summary>
    /// The wait before retry <paramref name="attempt"/> + 1: BackoffMs doubling up to MaxBackoffMs, half of it random
    /// ("equal jitter"), so that devices whose receiver comes back do not all retry at the same instant.
    /// </summary>
    internal TimeSpan Backoff(int attempt)
    {
        var ceiling = Math.Min(_options.MaxBackoffMs, _options.BackoffMs * Math.Pow(2, Math.Min(attempt, 30)));
        return TimeSpan.FromMilliseconds(ceiling / 2 + Random.Shared.NextDouble() * ceiling / 2);
    }

    private static string Describe(Exception e) => e switch
    {
        HttpRequestException { InnerException: System.Net.Sockets.SocketException s } => s.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionRefused ? "connection refused" : Clip(s.Message),
        _ => Clip(e.Message),
    };

    /// <summary>What a receiver says, as edged repeats it: the status code and at most 80 printable characters of its reason.</summary>
    private static string Describe(HttpResponseMessage r) => $"HTTP {(int)r.StatusCode} {Clip(r.ReasonPhrase ?? "")}".TrimEnd();

    private static string Clip(string s) => Onnx.Metadata.ModelSettings.Clip(new string([.. s.Take(80).Select(c => char.IsControl(c) ? ' ' : c)]));

    /// <summary>
    /// The URL as shown: scheme, host and port only. Webhook URLs often carry their secret in the path or query (Slack,
    /// Discord, Teams), or a user and password; none of it reaches the status, the page or the log.
    /// </summary>
    private static string Redacted(Uri url) => $"{url.Scheme}://{url.Authority}/{(url.PathAndQuery is "/" or "" ? "" : "…")}";
}
