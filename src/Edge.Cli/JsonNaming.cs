using System.Text.Json.Serialization;

namespace Edge.Cli;

/// <summary>
/// The one naming policy of everything Edge writes as JSON (the HTTP API, every <c>--json</c> output,
/// reports and run files): lower snake case from the C# names. Units are the last word of a name and
/// are spelled as one word in C# (<c>LatencyMs</c>, <c>PeakRssMib</c>) so that they stay one word in
/// JSON (<c>latency_ms</c>, <c>peak_rss_mib</c>). README, "JSON outputs", documents it.
/// </summary>
public static class JsonNaming
{
    public const JsonKnownNamingPolicy Policy = JsonKnownNamingPolicy.SnakeCaseLower;
}
