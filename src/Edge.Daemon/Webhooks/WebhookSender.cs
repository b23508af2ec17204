using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Cli;
using Edge.Daemon.Models;
using Edge.Daemon.Storage;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Webhooks;

/// <summary>The JSON body of a webhook: one state change (<c>kind</c> "state-change").</summary>
public sealed record WebhookEvent(long Id, string Delivery, string Kind, string Camera, string Region, string? From, string To, float Score, IReadOnlyList<StoredPrediction> Scores,
    DateTimeOffset Time, long Frame, string? Model, string? Snapshot, string? SnapshotUrl, string? ClipUrl);

/// <summary>
/// The JSON body of a webhook: one result whose own decision is a class the webhook asked for (<c>kind</c> "result").
/// <paramref name="State"/> is the region's state after it, <paramref name="Trigger"/> what asked for the frame.
/// </summary>
public sealed record WebhookResult(long Id, string Delivery, string Kind, string Camera, string Region, string Decision, string? State, float Score,
    IReadOnlyList<StoredPrediction> Scores, DateTimeOffset Time, string Trigger, string? Model, string? Snapshot, string? SnapshotUrl);

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata, PropertyNamingPolicy = JsonNaming.Policy, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(WebhookEvent))]
[JsonSerializable(typeof(WebhookResult))]
internal sealed partial class WebhookJson : JsonSerializerContext;

/// <summary>
/// How one webhook's deliveries stand (status API and page). <c>Delivered</c>, <c>Pending</c> and <c>Lost</c> count state
/// changes; <c>ResultsPending</c> is the results written since the last one looked at (an upper bound: not all are of the
/// classes asked for), <c>ResultsLost</c> those deleted by retention before they were looked at (likewise).
/// </summary>
public sealed record WebhookStatus(string Url, bool Signed, long Delivered, long Pending, long FailedAttempts, long Skipped, long Lost, string? LastError,
    DateTimeOffset? LastDeliveredAt, long LastDeliveredId, bool StateChanges, IReadOnlyList<string> Results, long ResultsDelivered, long ResultsPending, long ResultsLost);

/// <summary>
/// Sends the stored state changes (and, when asked, every result decided as one of <see cref="WebhookOptions.Results"/>)
/// to one URL, oldest first, one at a time: the events and results tables are the queues and a cursor per table in
/// the same database says how far delivery got (results and state changes are merged by time, a result before the
/// change it caused), so events wait through a receiver being down and a restart, and arrive in
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
    private long _delivered, _failed, _skipped, _lost, _lastId, _resultsDelivered, _resultsLost, _resultCursor;
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
        _key = KeyOf(options.Url);
    }

    /// <summary>The key of a webhook's cursors in the results database: its URL's hash (the database never holds a token from the URL).</summary>
    public static string KeyOf(string url) => Sha256Hasher.Hex(System.Text.Encoding.UTF8.GetBytes(url));

    /// <summary>The URL as shown: without user name and password.</summary>
    public string Display { get; }

    public WebhookStatus Status => new(Display, !string.IsNullOrEmpty(_options.Secret), Interlocked.Read(ref _delivered),
        Math.Max(0, Newest() - Interlocked.Read(ref _lastId)), Interlocked.Read(ref _failed), Interlocked.Read(ref _skipped),
        Interlocked.Read(ref _lost), Volatile.Read(ref _lastError),
        Interlocked.Read(ref _lastDeliveredTicks) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null, Interlocked.Read(ref _lastId),
        _options.StateChanges, _options.Results, Interlocked.Read(ref _resultsDelivered),
        _options.Results.Length == 0 ? 0 : Math.Max(0, _store.LastResultId - Interlocked.Read(ref _resultCursor)), Interlocked.Read(ref _resultsLost));

    /// <summary>The newest stored event, read now (a delivery that hangs must not freeze the backlog shown).</summary>
    private long Newest()
    {
        // The writer's figure, not a query: the status must not wait for the database's lock.
        return _options.StateChanges ? _store.LastEventId : 0;
    }

    /// <summary>Rows read from the store at a time.</summary>
    private const int Page = 100;
    /// <summary>Results passed over (none of the classes asked for) before the cursor is written anyway.</summary>
    private const int SaveScanEvery = 1000;

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
        bool states = _options.StateChanges, results = _options.Results.Length > 0;
        long cursor = -1, resultCursor = -1, resultSaved = -1;
        while (!ct.IsCancellationRequested)
        {
            List<StoredEvent> events = [];
            var page = ResultsPage.Empty;
            try
            {
                if (cursor < 0 || resultCursor < 0)
                {
                    // Both cursors at once, or neither: a half-started feed must not read from position -1.
                    // A feed the webhook no longer takes keeps no cursor: retention need not keep its rows.
                    (_instance, cursor, resultCursor) = _store.Use(s => (s.InstanceId(),
                        states ? s.WebhookCursor(_key, _createdAt) : Drop(s, WebhookFeed.StateChanges),
                        results ? s.WebhookCursor(_key, _createdAt, WebhookFeed.Results) : Drop(s, WebhookFeed.Results)));
                    resultSaved = resultCursor;
                    Interlocked.Exchange(ref _resultCursor, resultCursor);
                }
                Interlocked.Exchange(ref _lastId, cursor);
                var (after, resultsAfter) = (cursor, resultCursor);
                // Idle, nothing newer written: no query (the writer keeps the newest ids). Both tables in one read, and the
                // newest ids looked at under the same lock: the writer commits a result with or before the state change it
                // caused, so one read sees both or neither.
                if ((states && _store.LastEventId > after) || (results && _store.LastResultId > resultsAfter))
                    (events, page) = _store.Use(s => (states && _store.LastEventId > after ? s.Events(after, Page) : [],
                        results && _store.LastResultId > resultsAfter ? s.ResultsDecided(resultsAfter, _options.Results, Page) : ResultsPage.Empty));
            }
            catch (StoreUnavailableException)
            {
                // The store is opening or paused (disk full): its writer says why; delivery waits for it.
            }
            var rows = page.Rows;
            if (events.Count > 0 && events[0].Id > cursor + 1 && cursor >= 0)
            {
                // Retention (Decision:MaxEvents) deleted events before they could be delivered.
                var gap = events[0].Id - cursor - 1;
                Interlocked.Add(ref _lost, gap);
                _logger.LogError("Webhook {Url}: {Count} events were deleted by retention (Decision:MaxEvents) before they could be delivered", Display, gap);
            }
            if (results && page.Oldest > resultCursor + 1 && resultCursor > 0)
            {
                // Retention (Store:MaxRows or MaxAgeDays, twice them for undelivered ones) deleted results not yet looked at:
                // how many of them were of the classes asked for is not known; the gap is counted (an upper bound).
                Interlocked.Add(ref _resultsLost, page.Oldest - resultCursor - 1);
                _logger.LogError("Webhook {Url}: results {First}..{Last} were deleted by retention (twice Store:MaxRows or Store:MaxAgeDays) before they could be delivered",
                    Display, resultCursor + 1, page.Oldest - 1);
                resultCursor = page.Oldest - 1;
            }
            if (events.Count == 0 && rows.Count == 0)
            {
                if (page.ScannedTo > resultCursor) resultCursor = page.ScannedTo;
                Interlocked.Exchange(ref _resultCursor, resultCursor);
                if (resultCursor - resultSaved >= SaveScanEvery) resultSaved = SaveResultCursor(resultCursor, resultSaved);
                try { await Task.Delay(PollInterval, _clock, ct).ConfigureAwait(false); } catch (OperationCanceledException) { }
                continue;
            }
            // Merged by time, each table in its own order (a result before a state change of the same time: it caused it).
            // After a full page, the other table's rows wait for the next read where an unread row could come first: a
            // result later than the last event read, a state change at or after the last result read (its own result may
            // be the next one).
            var eventsEnd = events.Count >= Page ? events[^1].Time : DateTimeOffset.MaxValue;
            var rowsEnd = page.Full && rows.Count > 0 ? rows[^1].Time : DateTimeOffset.MaxValue;
            int e = 0, r = 0;
            while (e < events.Count || r < rows.Count)
            {
                var takeResult = e == events.Count || (r < rows.Count && rows[r].Time <= events[e].Time);
                var wait = takeResult ? rows[r].Time > eventsEnd : events[e].Time >= rowsEnd;
                if (wait && (e > 0 || r > 0)) break;
                if (takeResult)
                {
                    var row = rows[r++];
                    var sent = await DeliverAsync(ResultBody(row), "result", $"{_instance}-r{row.Id}", $"result {row.Id}", ct).ConfigureAwait(false);
                    if (sent == Sent.Stopping) return;
                    if (sent == Sent.Taken) Interlocked.Increment(ref _resultsDelivered);
                    resultCursor = row.Id;
                    Interlocked.Exchange(ref _resultCursor, resultCursor);
                    resultSaved = SaveResultCursor(row.Id, resultSaved);
                }
                else
                {
                    var ev = events[e++];
                    var sent = await DeliverAsync(EventBody(ev), "state-change", $"{_instance}-{ev.Id}", $"event {ev.Id}", ct).ConfigureAwait(false);
                    if (sent == Sent.Stopping) return;
                    if (sent == Sent.Taken) Interlocked.Increment(ref _delivered);
                    cursor = ev.Id;
                    try { _store.Use(s => { s.SetWebhookCursor(_key, ev.Id); return 0; }); }
                    catch (StoreUnavailableException ex)
                    {
                        // Sent but not remembered: sent again after a restart (at least once).
                        if (_said.First("cursor")) _logger.LogWarning("Webhook {Url}: cannot remember the delivery: {Reason}", Display, ex.Message);
                    }
                    Interlocked.Exchange(ref _lastId, ev.Id);
                }
            }
            // The rows between the last result sent and the next one read did not match: the cursor passes them, so the
            // next read does not look through them again. All sent: it passes everything the read looked through.
            if (r < rows.Count) resultCursor = Math.Max(resultCursor, rows[r].Id - 1);
            else if (page.ScannedTo > resultCursor) resultCursor = page.ScannedTo;
            Interlocked.Exchange(ref _resultCursor, resultCursor);
            if (resultCursor - resultSaved >= SaveScanEvery) resultSaved = SaveResultCursor(resultCursor, resultSaved);
        }
    }

    private long Drop(ResultStore store, WebhookFeed feed)
    {
        store.DropWebhookCursor(_key, feed);
        return 0;
    }

    /// <summary>Writes the results cursor; returns what is saved now (<paramref name="saved"/> when the store cannot take it: tried again later; a restart looks through those rows again).</summary>
    private long SaveResultCursor(long id, long saved)
    {
        try
        {
            _store.Use(s => { s.SetWebhookCursor(_key, id, WebhookFeed.Results); return 0; });
            return id;
        }
        catch (StoreUnavailableException ex)
        {
            if (_said.First("cursor")) _logger.LogWarning("Webhook {Url}: cannot remember the delivery: {Reason}", Display, ex.Message);
            return saved;
        }
    }

    private byte[] EventBody(StoredEvent e) =>
        JsonSerializer.SerializeToUtf8Bytes(new WebhookEvent(e.Id, $"{_instance}-{e.Id}", "state-change", e.Camera, e.Region, e.From, e.To, e.Score, e.Top, e.Time, e.Frame, e.Model,
            e.Snapshot is null ? null : Path.GetFileName(e.Snapshot), SnapshotUrl(e.Snapshot),
            e.Clip is null ? null : "/api/clips/" + Uri.EscapeDataString(e.Clip) + ".mjpeg"), WebhookJson.Default.WebhookEvent);

    private byte[] ResultBody(StoredResult r) =>
        JsonSerializer.SerializeToUtf8Bytes(new WebhookResult(r.Id, $"{_instance}-r{r.Id}", "result", r.Camera ?? r.Source, r.Region ?? Regions.Region.WholeFrameName,
            r.Decision ?? "", r.State, r.Top.Count > 0 ? r.Top[0].Score : 0, r.Top, r.Time, r.Trigger, r.Model,
            r.Snapshot is null ? null : Path.GetFileName(r.Snapshot), SnapshotUrl(r.Snapshot)), WebhookJson.Default.WebhookResult);

    private static string? SnapshotUrl(string? snapshot) => snapshot is null ? null : "/api/snapshots/" + Uri.EscapeDataString(Path.GetFileName(snapshot));

    private enum Sent { Taken, Skipped, Stopping }

    /// <summary>Sends one body until it is taken, skipped after refusals, or delivery stops (not sent: sent again next time).</summary>
    private async Task<Sent> DeliverAsync(byte[] body, string kindHeader, string delivery, string what, CancellationToken ct)
    {
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
                request.Headers.Add("X-Edge-Event", kindHeader);
                // Unique across databases and devices (a random id kept in the database, then the row's id): receivers deduplicate on it.
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
                    return Sent.Taken;
                }
                failure = Describe(response);
                kind = "HTTP " + code;
                // A refusal is the receiver saying this body is bad (400, 413, 415, 422): tried MaxRefusals times, then skipped.
                // Everything else (3xx, 401/403/404 while a receiver or its proxy restarts, 408, 429, 5xx) is retried until it works.
                if (code is 400 or 413 or 415 or 422 && ++refusals >= _options.MaxRefusals)
                {
                    Interlocked.Increment(ref _skipped);
                    Volatile.Write(ref _lastError, $"{what} skipped: {failure}");
                    if (_said.First("skipped:" + code))
                        _logger.LogError("Webhook {Url}: {What} refused {Count} times ({Reason}); skipped (counted in skipped; said once per status)", Display, what, refusals, failure);
                    return Sent.Skipped;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return Sent.Stopping; // not delivered, not skipped; sent again next time
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
            catch (OperationCanceledException) { return Sent.Stopping; }
        }
    }

    private void Delivered()
    {
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
