using System.Diagnostics;
using Edge.Daemon.Capture;
using Edge.Daemon.Pipeline;
using Edge.Daemon.Triggers;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Cli;

public sealed record PipelineBenchReport(string Source, string Trigger, int Threads, int Frames, double Seconds, double CapturedPerSecond,
    double ClassifiedPerSecond, long Dropped, long Corrupt, double CaptureToResultP50Ms, double CaptureToResultP99Ms, double InferP50Ms,
    double CpuPercentOfOneCore, double RssStartMib, double RssEndMib, double RssPeakMib, double ManagedHeapMib, long Gen0Collections, double AllocatedBytesPerFrame,
    double[] RssEveryTenthMib, int Regions = 0);

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

    public const string FfmpegTestSource = "ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=size=640x480:rate=30 -f mjpeg -q:v 5 -";

    public static async Task<PipelineBenchReport> RunAsync(Edge.Core.Inference.Classifier classifier, string source, string trigger, int frames,
        double maxRate, ILogger logger, CancellationToken ct, IReadOnlyList<Regions.Region>? regions = null)
    {
        var command = source == "ffmpeg-testsrc" ? FfmpegTestSource : source;
        Func<IFrameSource> factory = Directory.Exists(command) || File.Exists(command)
            ? () => new FolderSource(command, loop: true, fps: 30)
            : () => new PipeMjpegSource(command);
        var supervisor = new SourceSupervisor(factory, TimeSpan.FromSeconds(5), logger);
        var mode = Enum.Parse<TriggerMode>(trigger, ignoreCase: true);
        await using var pipeline = new CameraPipeline(classifier, supervisor, null, logger, new PipelineSettings
        {
            Mode = mode, MaxRate = maxRate, Regions = regions ?? [],
            Decision = new Decisions.DecisionOptions { MinScore = 0.5f, MinMargin = 0.1f, Consecutive = 3 },
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = pipeline.RunAsync(stop.Token);
        try
        {
            return await MeasureAsync(pipeline, run, command, mode, classifier, frames, ct).ConfigureAwait(false);
        }
        finally
        {
            // The pipeline is disposed only after its run ended, also when measuring failed or was cancelled.
            stop.Cancel();
            try { await run.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
    }

    private static async Task<PipelineBenchReport> MeasureAsync(CameraPipeline pipeline, Task run, string command, TriggerMode mode,
        Edge.Core.Inference.Classifier classifier, int frames, CancellationToken ct)
    {

        // Warm up, then measure from a clean point.
        while (pipeline.Counters.FramesCaptured < 30 && !run.IsCompleted) await Task.Delay(20, ct);
        var process = Process.GetCurrentProcess();
        var start = pipeline.Counters;
        var wall = Stopwatch.StartNew();
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        var rssStart = Edge.Core.Diagnostics.ProcessMemory.ResidentMib();
        var allocated0 = GC.GetTotalAllocatedBytes(precise: false);
        var rssPeak = rssStart;
        // RSS after each tenth of the frames: growth shows as a rising series, not as one end value.
        var tenths = new List<double>(10);
        while (pipeline.FramesCaptured - start.FramesCaptured < frames && !run.IsCompleted)
        {
            await Task.Delay(100, ct);
            var rss = Edge.Core.Diagnostics.ProcessMemory.ResidentMib();
            rssPeak = Math.Max(rssPeak, rss);
            var done = pipeline.FramesCaptured - start.FramesCaptured;
            while (tenths.Count < 10 && done >= (tenths.Count + 1) * (long)frames / 10) tenths.Add(Math.Round(rss, 1));
        }
        var end = pipeline.Counters;
        var seconds = wall.Elapsed.TotalSeconds;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
        var rssEnd = Edge.Core.Diagnostics.ProcessMemory.ResidentMib();
        var allocated = GC.GetTotalAllocatedBytes(precise: false) - allocated0;
        var (p50, _, p99, _) = pipeline.CaptureToResult.Percentiles();
        return new PipelineBenchReport(command, mode.ToString().ToLowerInvariant(), classifier.Options.EffectiveIntraOpThreads,
            (int)(end.FramesCaptured - start.FramesCaptured), Math.Round(seconds, 2),
            Math.Round((end.FramesCaptured - start.FramesCaptured) / seconds, 1), Math.Round((end.FramesClassified - start.FramesClassified) / seconds, 1),
            end.FramesDropped - start.FramesDropped, end.CorruptFrames - start.CorruptFrames, Math.Round(p50, 3), Math.Round(p99, 3),
            Math.Round(pipeline.InferTimes.Percentiles().P50, 3), Math.Round(100 * cpu / seconds, 1), rssStart, rssEnd, rssPeak,
            Math.Round(GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0, 1), GC.CollectionCount(0),
            Math.Round((double)allocated / Math.Max(1, end.FramesCaptured - start.FramesCaptured), 1), [.. tenths], pipeline.Settings.Regions.Count);
    }
}
