using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Edge.Cli;
using Edge.Core.Inference;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;

namespace Edge.Daemon.Cli;

/// <summary>
/// <c>edged bench</c>: per-stage latency (decode, preprocess, infer, post) and bytes allocated per
/// frame, with a bare ONNX Runtime loop over the same session measured in the same run as the baseline.
/// </summary>
internal static class BenchCommand
{
    public static Command Create(ILoggerFactory logs)
    {
        var model = new ModelArguments();
        var image = new Option<string?>("--image", "-i") { Description = "Image to decode each frame (default: a generated 640x480 JPEG)" };
        var iterations = new Option<int>("--iterations", "-n") { Description = "Measured frames", DefaultValueFactory = _ => 200 };
        var warmup = new Option<int>("--warmup") { Description = "Frames run before measuring", DefaultValueFactory = _ => 20 };
        var json = new Option<bool>("--json") { Description = "Write a JSON report to standard output" };
        var source = new Option<string?>("--source") { Description = "Benchmark the whole daemon path on a live source: ffmpeg-testsrc (640x480 MJPEG), a command printing MJPEG, or a folder" };
        var trigger = new Option<string>("--trigger") { Description = "With --source: continuous or motion", DefaultValueFactory = _ => "continuous" };
        var frames = new Option<int>("--frames") { Description = "With --source: frames to capture", DefaultValueFactory = _ => 600 };
        var maxRate = new Option<double>("--max-rate") { Description = "With --source: most classifications per second", DefaultValueFactory = _ => 1000 };
        var cameras = new Option<int>("--cameras") { Description = "With --source: N cameras, each its own copy of the source, sharing the model as the daemon's cameras do", DefaultValueFactory = _ => 1 };
        var fps = new Option<double?>("--fps") { Description = "With --source ffmpeg-testsrc or a folder: frames per second of each camera (real time); default: as fast as they come" };
        var regions = new Option<int>("--regions") { Description = "With --source: classify N regions of each frame (a grid) instead of the whole frame, with decisions", DefaultValueFactory = _ => 0 };
        var command = new Command("bench", "Measure per-stage latency and allocations of the classification pipeline");
        command.Options.Add(source);
        command.Options.Add(trigger);
        command.Options.Add(frames);
        command.Options.Add(maxRate);
        command.Options.Add(regions);
        command.Options.Add(cameras);
        command.Options.Add(fps);
        command.Options.Add(image);
        command.Options.Add(iterations);
        command.Options.Add(warmup);
        command.Options.Add(json);
        model.AddTo(command);
        command.SetAction((r, ct) => r.GetValue(source) is { } src
            ? Program.GuardAsync(() => RunPipelineAsync(r, model, src, r.GetValue(trigger)!, r.GetValue(frames), r.GetValue(maxRate), r.GetValue(regions), r.GetValue(cameras), r.GetValue(fps),
                r.GetValue(json), logs, ct))
            : Task.FromResult(Program.Guard(() => Run(r, model, r.GetValue(image), r.GetValue(iterations), r.GetValue(warmup), r.GetValue(json), logs))));
        return command;
    }

    private static int Run(ParseResult r, ModelArguments modelArgs, string? imagePath, int iterations, int warmup, bool json, ILoggerFactory logs)
    {
        if (iterations < 1) throw new CliError("--iterations must be at least 1", ExitCodes.Usage);
        if (warmup < 0) throw new CliError("--warmup must be 0 or more", ExitCodes.Usage);
        var logger = logs.CreateLogger("edged");
        byte[] encoded;
        if (imagePath is null) encoded = SyntheticJpeg(640, 480);
        else if (!File.Exists(imagePath)) throw new CliError($"image '{imagePath}' does not exist");
        else encoded = Onnx.IO.BoundedFile.ReadAll(imagePath, Core.Imaging.ImageDecoderOptions.MaxFileBytes);

        using var classifier = modelArgs.Load(r, logger, maxBatch: 1);
        var model = classifier.Model;
        Edge.Core.Imaging.DecodeInfo info;
        try
        {
            info = classifier.LoadImage(encoded); // a bad image fails here, once, before any timing
        }
        catch (Edge.Core.Imaging.ImageDecodeException e)
        {
            throw new CliError($"image '{imagePath}': {e.Message}");
        }

        // The baseline: the same session, fed by plain ONNX Runtime calls with preallocated OrtValues.
        var bareInput = GC.AllocateArray<float>(classifier.InputSlot(0).Length, pinned: true);
        classifier.InputSlot(0).CopyTo(bareInput);
        var bareOutput = GC.AllocateArray<float>(model.ClassCount, pinned: true);
        using var bareIn = OrtValue.CreateTensorValueFromMemory(bareInput, [.. model.InputShape(model.FixedBatch ?? 1).Select(d => (long)d)]);
        using var bareOut = OrtValue.CreateTensorValueFromMemory(bareOutput, [model.FixedBatch ?? 1, .. model.OutputTail.Select(d => (long)d)]);
        using var runOptions = new RunOptions();
        string[] inNames = [model.InputName], outNames = [model.OutputName];
        OrtValue[] inValues = [bareIn], outValues = [bareOut];

        const int stages = 5;
        var times = new double[stages][];
        for (var s = 0; s < stages; s++) times[s] = new double[iterations];
        var bytes = new long[stages];
        var top = new Prediction[Math.Min(5, model.ClassCount)];
        var ticks = new long[stages + 1];
        var allocs = new long[stages + 1];

        for (var i = -warmup; i < iterations; i++)
        {
            ticks[0] = Stopwatch.GetTimestamp(); allocs[0] = GC.GetAllocatedBytesForCurrentThread();
            classifier.Decode(encoded);
            ticks[1] = Stopwatch.GetTimestamp(); allocs[1] = GC.GetAllocatedBytesForCurrentThread();
            classifier.Preprocess(0);
            ticks[2] = Stopwatch.GetTimestamp(); allocs[2] = GC.GetAllocatedBytesForCurrentThread();
            classifier.Infer();
            ticks[3] = Stopwatch.GetTimestamp(); allocs[3] = GC.GetAllocatedBytesForCurrentThread();
            classifier.Postprocess();
            classifier.TopK(0, top);
            ticks[4] = Stopwatch.GetTimestamp(); allocs[4] = GC.GetAllocatedBytesForCurrentThread();
            classifier.Session.Run(runOptions, inNames, inValues, outNames, outValues);
            ticks[5] = Stopwatch.GetTimestamp(); allocs[5] = GC.GetAllocatedBytesForCurrentThread();
            if (i < 0) continue;
            for (var s = 0; s < stages; s++)
            {
                times[s][i] = Stopwatch.GetElapsedTime(ticks[s], ticks[s + 1]).TotalMilliseconds;
                bytes[s] += allocs[s + 1] - allocs[s];
            }
        }

        string[] names = ["decode", "preprocess", "infer", "post", "bare onnxruntime"];
        var results = names.Select((n, s) => Stage(n, times[s], bytes[s] / (double)iterations)).ToList();
        var pipeline = Enumerable.Range(0, iterations).Select(i => times[0][i] + times[1][i] + times[2][i] + times[3][i]).ToArray();
        var total = Stage("total", pipeline, results.Take(4).Sum(x => x.BytesPerFrame));
        var report = new JsonBenchReport(model.Path, imagePath ?? "generated 640x480 JPEG", info.SourceWidth, info.SourceHeight,
            iterations, warmup, classifier.Options.EffectiveIntraOpThreads, [.. results.Take(4), total], results[4],
            Math.Round(results[2].MedianMs / results[4].MedianMs, 4),
            Math.Round((results[0].MedianMs + results[1].MedianMs) / results[2].MedianMs, 4),
            total.MedianMs, Math.Round(1000 / total.MedianMs, 1), total.BytesPerFrame);

        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(report, CliJsonContext.Default.JsonBenchReport));
            return ExitCodes.Ok;
        }
        var inv = CultureInfo.InvariantCulture;
        Console.Out.WriteLine($"model {model.Path}: input {string.Join("x", model.InputShape(1))}, {classifier.Options.EffectiveIntraOpThreads} thread(s), " +
            $"image {report.Image} ({info.SourceWidth}x{info.SourceHeight} {info.Format}, decoded at {info.DecodedWidth}x{info.DecodedHeight}), {iterations} frames after {warmup} warm-up");
        var table = new TextTable("stage", "median ms", "p99 ms", "mean ms", "bytes/frame").AlignRight(1, 2, 3, 4);
        foreach (var s in report.Stages.Append(report.BareOnnxRuntime))
            table.Add(s.Name, s.MedianMs.ToString("0.000", inv), s.P99Ms.ToString("0.000", inv), s.MeanMs.ToString("0.000", inv), s.BytesPerFrame.ToString("0.#", inv));
        Console.Out.Write(table.ToString());
        Console.Out.WriteLine($"infer / bare onnxruntime (median): {report.InferOverBare.ToString("0.000", inv)}");
        Console.Out.WriteLine($"(decode + preprocess) / infer (median): {report.DecodePreprocessOverInfer.ToString("0.000", inv)}");
        Console.Out.WriteLine($"pipeline: {report.FramesPerSecond.ToString("0.0", inv)} frames/s, {report.BytesPerFrame.ToString("0.#", inv)} bytes allocated per frame");
        return ExitCodes.Ok;
    }

    private static async Task<int> RunPipelineAsync(ParseResult r, ModelArguments modelArgs, string source, string trigger, int frames, double maxRate,
        int regionCount, int cameras, double? fps, bool json, ILoggerFactory logs, CancellationToken ct)
    {
        if (cameras is < 1 or > Configuration.OptionsValidator.MaxCameras)
            throw new CliError($"--cameras must be 1..{Configuration.OptionsValidator.MaxCameras}", ExitCodes.Usage);
        if (fps is not null and not (>= 0.1 and <= 1000)) throw new CliError("--fps must be 0.1..1000", ExitCodes.Usage);
        if (regionCount is < 0 or > Configuration.OptionsValidator.MaxRegions)
            throw new CliError($"--regions must be 0..{Configuration.OptionsValidator.MaxRegions}", ExitCodes.Usage);
        if (frames < 1) throw new CliError("--frames must be at least 1", ExitCodes.Usage);
        if (trigger is not ("continuous" or "motion")) throw new CliError($"--trigger '{trigger}': expected continuous or motion", ExitCodes.Usage);
        var logger = logs.CreateLogger("edged");
        using var classifier = modelArgs.Load(r, logger, maxBatch: Math.Max(1, regionCount));
        var report = await PipelineBench.RunAsync(classifier, source, trigger, frames, maxRate, logger, ct, PipelineBench.Grid(regionCount), cameras, fps);
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(report, CliJsonContext.Default.PipelineBenchReport));
            return ExitCodes.Ok;
        }
        var inv = CultureInfo.InvariantCulture;
        Console.Out.WriteLine($"source {report.Source}, trigger {report.Trigger}, model {classifier.Model.Path}, {report.Threads} thread(s), {(regionCount == 0 ? "whole frame" : $"{regionCount} regions")}{(cameras > 1 ? $" on each of {cameras} cameras" : "")}");
        Console.Out.WriteLine($"{report.Frames} frames in {report.Seconds.ToString("0.0", inv)} s: captured {report.CapturedPerSecond.ToString("0.0", inv)}/s, " +
            $"classified {report.ClassifiedPerSecond.ToString("0.0", inv)}/s, dropped {report.Dropped}, corrupt {report.Corrupt}, state changes {report.StateChanges}");
        Console.Out.WriteLine($"capture-to-result latency p50 {report.CaptureToResultP50Ms.ToString("0.00", inv)} ms, p99 {report.CaptureToResultP99Ms.ToString("0.00", inv)} ms; inference p50 {report.InferP50Ms.ToString("0.00", inv)} ms");
        foreach (var c in report.Cameras ?? [])
            Console.Out.WriteLine($"  {c.Name}: captured {c.Captured}, classified {c.ClassifiedPerSecond.ToString("0.0", inv)}/s, dropped {c.Dropped}, capture-to-result p50 {c.CaptureToResultP50Ms.ToString("0.00", inv)} ms, p99 {c.CaptureToResultP99Ms.ToString("0.00", inv)} ms");
        Console.Out.WriteLine($"allocated {report.AllocatedBytesPerFrame.ToString("0.#", inv)} bytes per frame (the benchmark's own sampling excluded), {report.Gen0Collections} gen0 collections");
        Console.Out.WriteLine($"CPU {report.CpuPercentOfOneCore.ToString("0.0", inv)}% of one core; RSS {report.RssStartMib.ToString("0.0", inv)} -> {report.RssEndMib.ToString("0.0", inv)} MiB (peak {report.RssPeakMib.ToString("0.0", inv)}); after each tenth of the frames: {string.Join(" ", report.RssEveryTenthMib.Select(v => v.ToString("0.0", inv)))}");
        return ExitCodes.Ok;
    }

    private static JsonStage Stage(string name, double[] ms, double bytesPerFrame)
    {
        var sorted = (double[])ms.Clone();
        Array.Sort(sorted);
        return new JsonStage(name, Math.Round(Core.Diagnostics.Percentile.OfSorted(sorted, 50), 4), Math.Round(Core.Diagnostics.Percentile.OfSorted(sorted, 99), 4),
            Math.Round(sorted.Average(), 4), Math.Round(bytesPerFrame, 1));
    }

    /// <summary>A camera-like test frame: smooth gradients plus fine texture, so the JPEG has realistic entropy.</summary>
    internal static byte[] SyntheticJpeg(int width, int height, int quality = 85)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var pixels = bitmap.GetPixelSpan();
        var rng = new Random(1234);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var i = (y * width + x) * 4;
                var noise = rng.Next(-12, 13);
                pixels[i] = (byte)Math.Clamp(255 * x / width + noise, 0, 255);
                pixels[i + 1] = (byte)Math.Clamp(255 * y / height + noise, 0, 255);
                pixels[i + 2] = (byte)Math.Clamp(128 + 100 * Math.Sin((x + y) / 23.0) + noise, 0, 255);
                pixels[i + 3] = 255;
            }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, quality);
        return data.ToArray();
    }
}
