using System.Diagnostics;
using System.Threading.Channels;
using Edge.Core.Imaging;
using Edge.Core.Inference;
using Edge.Daemon.Actions;
using Edge.Daemon.Capture;
using Edge.Daemon.Storage;
using Edge.Daemon.Triggers;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Pipeline;

/// <summary>The latest classification, as the status API and page show it.</summary>
public sealed record LatestResult(long Sequence, DateTimeOffset Time, string Trigger, IReadOnlyList<StoredPrediction> Top, double LatencyMs);
