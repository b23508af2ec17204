using System.Diagnostics;
using Edge.Daemon.Capture;
using Edge.Daemon.Pipeline;
using Edge.Daemon.Triggers;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Cli;

public sealed record PipelineBenchReport(string Source, string Trigger, int Threads, int Frames, double Seconds, double CapturedPerSecond,
    double ClassifiedPerSecond, long Dropped, long Corrupt, double CaptureToResultP50Ms, double CaptureToResultP99Ms, double InferP50Ms,
    double CpuPercentOfOneCore, double RssStartMib, double RssEndMib, double RssPeakMib, double ManagedHeapMib, long Gen0Collections, double AllocatedBytesPerFrame,
    double[] RssEveryTenthMib, int Regions = 0, IReadOnlyList<CameraBenchReport>? Cameras = null, long StateChanges = 0);

/// <summary>One camera of a several-camera run: its own rate and latency (each classification covers all its regions).</summary>
public sealed record CameraBenchReport(string Name, long Captured, long Classified, double ClassifiedPerSecond, long Dropped, double CaptureToResultP50Ms,
    double CaptureToResultP99Ms);

/// <summary>
/// <c>edged bench --source ...</c>: the daemon's whole capture → classify path on a live source for
/// a number of frames: throughput, capture-to-result latency, CPU use and memory, sampled so that
/// growth over a long run shows.
/// </summary>
internal static class PipelineBench
{
    /// <summary><paramref name="count"/> regions tiling the frame in a grid (as even as the count allows), for measuring regions.</summary>
    public static IReadOnlyList<Regions.Region> Grid(int count)
    {
        if (count <= 0) return [];
        var columns = (int)Math.Ceiling(Math.Sqrt(count));
        var rows = (int)Math.Ceiling((double)count / columns);
        return [.. Enumerable.Range(0, count).Select(i => new Regions.Region($"r{i}", (double)(i % columns) / columns, (double)(i / columns) / rows, 1.0 / columns, 1.0 / rows))];
    }

    /// <summary>640x480 MJPEG from ffmpeg's test pattern: as fast as ffmpeg makes it, or at a camera's real-time rate.</summary>
    public static string FfmpegTestSource(double? fps) => fps is { } f
        ? $"ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc=size=640x480:rate={f.ToString(System.Globalization.CultureInfo.InvariantCulture)} -f mjpeg -q:v 5 -"
        : "ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=size=640x480:rate=30 -f mjpeg -q:v 5 -";

    /// <summary>
    /// <paramref name="cameras"/> cameras, each its own source (the same command or folder) and pipeline, all sharing one model
    /// as the daemon's cameras do; measured over <paramref name="frames"/> frames captured in all.
    /// </summary>
    public static async Task<PipelineBenchReport> RunAsync(Edge.Core.Inference.Classifier classifier, string source, string trigger, int frames,
        double maxRate, ILogger logger, CancellationToken ct, IReadOnlyList<Regions.Region>? regions = null, int cameras = 1, double? fps = null)
    {
        var command = source == "ffmpeg-testsrc" ? FfmpegTestSource(fps) : source;
        Func<IFrameSource> factory = Directory.Exists(command) || File.Exists(command)
            ? () => new FolderSource(command, loop: true, fps: fps ?? 30)
            : () => new PipeMjpegSource(command);
        var mode = Enum.Parse<TriggerMode>(trigger, ignoreCase: true);
        using var models = new Models.ModelSwitch(new Models.LoadedModel(classifier, null,
            Models.ModelIdentity.Of(classifier, "bench", "configured", DateTimeOffset.UtcNow), ownsClassifiers: false));
        var pipelines = Enumerable.Range(0, cameras).Select(i => new CameraPipeline(models, new SourceSupervisor(factory, TimeSpan.FromSeconds(5), logger), null, logger,
            new PipelineSettings
            {
                Mode = mode, MaxRate = maxRate, Regions = regions ?? [], CameraName = $"camera{i}",
                Decision = new Decisions.DecisionOptions { MinScore = 0.5f, MinMargin = 0.1f, Consecutive = 3 },
            })).ToList();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var runs = pipelines.Select(p => p.RunAsync(stop.Token)).ToList();
        try
        {
            return await MeasureAsync(pipelines, runs, command, mode, classifier, frames, ct).ConfigureAwait(false);
        }
        finally
        {
            // The pipelines are disposed only after their runs ended, also when measuring failed or was cancelled.
            stop.Cancel();
            // Every run ends and every pipeline (and its ffmpeg) is disposed, also when one of them failed; a failure is rethrown.
            try { await Task.WhenAll(runs).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
            finally
            {
                foreach (var p in pipelines) await p.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static PipelineCounters Sum(IEnumerable<PipelineCounters> all) => all.Aggregate((a, b) => new PipelineCounters(a.FramesCaptured + b.FramesCaptured,
        a.FramesDropped + b.FramesDropped, a.FramesClassified + b.FramesClassified, a.CorruptFrames + b.CorruptFrames, a.InferenceErrors + b.InferenceErrors,
        null, 0, 0, null, a.FramesSkipped + b.FramesSkipped));

    private static async Task<PipelineBenchReport> MeasureAsync(List<CameraPipeline> pipelines, List<Task> runs, string command, TriggerMode mode,
        Edge.Core.Inference.Classifier classifier, int frames, CancellationToken ct)
    {
        // Warm up, then measure from a clean point.
        while (pipelines.Any(p => p.Counters.FramesCaptured < 30) && !runs.Any(r => r.IsCompleted)) await Task.Delay(20, ct);
        var process = Process.GetCurrentProcess();
        var starts = pipelines.Select(p => p.Counters).ToList();
        var changes0 = pipelines.Sum(p => p.StateChanges);
        var start = Sum(starts);
        var wall = Stopwatch.StartNew();
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        var rssStart = Edge.Core.Diagnostics.ProcessMemory.ResidentMib();
        var allocated0 = GC.GetTotalAllocatedBytes(precise: true);
        var rssPeak = rssStart;
        // RSS after each tenth of the frames: growth shows as a rising series, not as one end value.
        var tenths = new List<double>(10);
        // Sampled on a thread of its own, whose own allocations (reading /proc, the loop) are counted and taken out of the
        // process's: what is left is what capture and classification allocate.
        var sampling = await Task.Factory.StartNew(() =>
        {
            var own0 = GC.GetAllocatedBytesForCurrentThread();
            while (!ct.IsCancellationRequested)
            {
                var done = 0L;
                var ended = false;
                for (var i = 0; i < pipelines.Count; i++)
                {
                    done += pipelines[i].FramesCaptured;
                    ended |= runs[i].IsCompleted;
                }
                done -= start.FramesCaptured;
                if (done >= frames || ended) break;
                Thread.Sleep(100);
                var rss = Edge.Core.Diagnostics.ProcessMemory.ResidentMib();
                rssPeak = Math.Max(rssPeak, rss);
                while (tenths.Count < 10 && done >= (tenths.Count + 1) * (long)frames / 10) tenths.Add(Math.Round(rss, 1));
            }
            // The last tenth ends with the loop: its RSS is read now.
            if (tenths.Count < 10 && !ct.IsCancellationRequested) tenths.Add(Math.Round(Edge.Core.Diagnostics.ProcessMemory.ResidentMib(), 1));
            return GC.GetAllocatedBytesForCurrentThread() - own0;
        }, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        var ends = pipelines.Select(p => p.Counters).ToList();
        var end = Sum(ends);
        var seconds = wall.Elapsed.TotalSeconds;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
        var rssEnd = Edge.Core.Diagnostics.ProcessMemory.ResidentMib();
        var allocated = Math.Max(0, GC.GetTotalAllocatedBytes(precise: true) - allocated0 - sampling);
        // The slowest camera's latency: what a trigger on any camera may wait for.
        var (p50, p99) = (pipelines.Max(p => p.CaptureToResult.Percentiles().P50), pipelines.Max(p => p.CaptureToResult.Percentiles().P99));
        var perCamera = pipelines.Select((p, i) => new CameraBenchReport(p.CameraName, ends[i].FramesCaptured - starts[i].FramesCaptured,
            ends[i].FramesClassified - starts[i].FramesClassified, Math.Round((ends[i].FramesClassified - starts[i].FramesClassified) / seconds, 1),
            ends[i].FramesDropped - starts[i].FramesDropped, Math.Round(p.CaptureToResult.Percentiles().P50, 3), Math.Round(p.CaptureToResult.Percentiles().P99, 3))).ToList();
        return new PipelineBenchReport(command, mode.ToString().ToLowerInvariant(), classifier.Options.EffectiveIntraOpThreads,
            (int)(end.FramesCaptured - start.FramesCaptured), Math.Round(seconds, 2),
            Math.Round((end.FramesCaptured - start.FramesCaptured) / seconds, 1), Math.Round((end.FramesClassified - start.FramesClassified) / seconds, 1),
            end.FramesDropped - start.FramesDropped, end.CorruptFrames - start.CorruptFrames, Math.Round(p50, 3), Math.Round(p99, 3),
            Math.Round(pipelines[0].InferTimes.Percentiles().P50, 3), Math.Round(100 * cpu / seconds, 1), rssStart, rssEnd, rssPeak,
            Math.Round(GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0, 1), GC.CollectionCount(0),
            Math.Round((double)allocated / Math.Max(1, end.FramesCaptured - start.FramesCaptured), 1), [.. tenths], pipelines[0].Settings.Regions.Count,
            pipelines.Count > 1 ? perCamera : null, pipelines.Sum(p => p.StateChanges) - changes0);
    }
}
