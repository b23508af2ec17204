namespace Edge.Daemon.Webhooks;

/// <summary>
/// Where state changes (and, when asked, results of chosen classes) are POSTed (<c>Webhooks</c> in edged.json):
/// <c>[{ "Url": "http://127.0.0.1:9000/hook", "Secret": "...", "Results": ["person"] }]</c>.
/// Events wait in the results database until delivered (at least once, in order), so they survive a restart and a
/// receiver being down, up to <c>Decision:MaxEvents</c> events.
/// </summary>
public sealed record WebhookOptions
{
    public string Url { get; set; } = "";
    /// <summary>Shared secret: each body is signed with HMAC-SHA256 in the <c>X-Edge-Signature-256</c> header (<c>sha256=HEX</c>).</summary>
    public string? Secret { get; set; }
    /// <summary>Time one attempt may take (connect, send, answer).</summary>
    public int TimeoutMs { get; set; } = 5000;
    /// <summary>The first retry's wait; it doubles (with jitter) up to <see cref="MaxBackoffMs"/>.</summary>
    public int BackoffMs { get; set; } = 1000;
    public int MaxBackoffMs { get; set; } = 30_000;
    /// <summary>
    /// Times an event the receiver refuses as bad (a 4xx answer other than 408 and 429) is sent before it is skipped
    /// (counted, said): one event the receiver will never take must not hold back the rest for ever.
    /// </summary>
    public int MaxRefusals { get; set; } = 5;
    /// <summary>Whether state changes are sent (a webhook may take only <see cref="Results"/>).</summary>
    public bool StateChanges { get; set; } = true;
    /// <summary>
    /// Classes (or <c>unknown</c>) whose every result is sent too, as its own body (<c>kind</c> "result"): each result a
    /// region's classification decides as one of these on its own (its thresholds and margin, before the rules for changing
    /// state), e.g. every frame with a <c>person</c>. Kept in the results database until delivered, as state changes are.
    /// </summary>
    public string[] Results { get; set; } = [];
}
