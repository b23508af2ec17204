using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Edge.Cli;
using Edge.Core.Imaging;
using Edge.Host.Datasets;
using Edge.Host.Evaluation;
using Edge.ModelPrep.Commands;
using Edge.ModelPrep.Evaluation;
using Edge.ModelPrep.Explain;
using Edge.ModelPrep.Pruning;
using Edge.ModelPrep.Training;
using Edge.Onnx.IO;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Pipeline;

/// <summary>
/// <c>edge-prep pipeline</c>: teacher → distilled student → pruned → exported → INT8 (and quantization-aware
/// INT8 when post-training quantization loses too much), each stage an edge-prep command run in this process
/// with its own output folder. A stage whose output is complete is not run again, one that stopped part-way
/// is resumed, so rerunning the same command continues a stopped pipeline.
/// </summary>
public sealed class PipelineRunner(string data, string output, string? testData, PipelineConfig config, ITrainingProgress progress)
{
    public const string SummaryFile = "pipeline.json";

    private readonly List<PipelineStage> _stages = [];
    private bool _upstreamRan;
    private string Out(string name) => Path.Combine(output, name);

    public PipelineSummary Run()
    {
        config.Validate("pipeline settings");
        CheckSettings();
        var isFolder = Directory.Exists(data);
        var fashion = data.StartsWith("fashion-mnist", StringComparison.OrdinalIgnoreCase);
        var evalData = testData ?? (fashion ? "fashion-mnist:test" : null);
        string[] Common() => [.. Threads(), .. config.MaxImages > 0 ? ["--max-images", I(config.MaxImages)] : Array.Empty<string>()];
        string[] TestFlag() => testData is null ? [] : ["--test-data", testData];

        var teacherArch = config.TeacherArch ?? (isFolder ? null : "resnet20");
        Train("teacher", config.TeacherEpochs,
            ["train", "--data", data, "--out", Out("teacher"), "--epochs", I(config.TeacherEpochs), "--seed", I(config.Seed),
             .. teacherArch is null ? Array.Empty<string>() : ["--arch", teacherArch, "--width", D(config.TeacherWidth)], .. TestFlag(), .. Common()]);
        Train("student", config.StudentEpochs,
            ["distill", "--teacher", Out("teacher"), "--data", data, "--out", Out("student"), "--arch", config.StudentArch, "--width", D(config.StudentWidth),
             .. config.StudentStemStride is { } stemStride ? ["--stem-stride", I(stemStride)] : Array.Empty<string>(),
             "--epochs", I(config.StudentEpochs), "--seed", I(config.Seed), .. TestFlag(), .. Common()]);
        var pruneTeacher = config.PruneTeacher switch { "source" => "source", "teacher" => Out("teacher"), _ => null };
        Stage("prune", Out("pruned"), File.Exists(Path.Combine(Out("pruned"), PruneRun.ReportFile)), Directory.Exists(Out("pruned")),
            ["prune", Out("student"), "--out", Out("pruned"), .. config.PruneLatency is { } latency ? ["--target-latency", latency] : new[] { "--target-macs", config.PruneTarget },
             "--epochs", I(config.PruneEpochs),
             "--criterion", config.PruneCriterion, .. config.PruneDropBlocks is { } drop ? ["--drop-blocks", I(drop)] : Array.Empty<string>(), .. config.PruneDropBy is { } by ? ["--drop-by", by] : Array.Empty<string>(), "--no-eval", .. pruneTeacher is null ? Array.Empty<string>() : ["--teacher", pruneTeacher], .. Common()]);
        var final = ExportAndQuantize("pruned", Out("pruned"));

        var points = new List<PipelinePoint>();
        var evalSet = evalData is not null ? ImageSets.Open(evalData, "test") : null;
        if (evalSet is null) progress.Message("no evaluation data (--test-data): accuracies in the report are on the training data, which flatters them");
        var set = evalSet ?? ImageSets.Open(data, "train");
        var all = config.EvalImages > 0 && config.EvalImages < set.Count ? set.Sample(config.EvalImages, config.Seed) : Enumerable.Range(0, set.Count).ToArray();
        var evalName = evalData ?? $"{data} (training data)";
        PipelinePoint Checkpointed(string stage, string run)
        {
            progress.Message($"evaluating {stage} on {evalName}");
            var r = CheckpointEvaluator.Evaluate(run, set, all, 1, 200);
            return new PipelinePoint(stage, run, "FP32", r.Top1, r.Macs, null, r.Latency!.P50Ms);
        }
        PipelinePoint Onnx(string stage, string file, string precision)
        {
            progress.Message($"evaluating {stage} ({precision}) on {evalName}");
            var r = OnnxEvaluator.Evaluate(file, set, all, 1, 200);
            return new PipelinePoint(stage, file, precision, r.Top1, r.Macs, new FileInfo(file).Length, r.Latency!.P50Ms);
        }
        points.Add(Checkpointed("teacher", Out("teacher")));
        points.Add(Checkpointed("student", Out("student")));
        points.Add(Onnx("pruned", Out("pruned.onnx"), "FP32"));
        var ptq = Onnx("pruned", Out("pruned.int8.onnx"), "INT8");
        points.Add(ptq);
        var loss = points[2].Top1 - ptq.Top1;
        var chosen = ptq;
        if (config.Qat == "always" || (config.Qat == "auto" && loss > config.MaxPtqLoss))
        {
            progress.Message(string.Create(CultureInfo.InvariantCulture, $"post-training INT8 loses {loss:0.00} points ({(config.Qat == "always" ? "qat: always" : $"more than {config.MaxPtqLoss}")}): quantization-aware fine-tuning"));
            Train("qat", config.QatEpochs, ["qat", Out("pruned"), "--out", Out("qat"), "--epochs", I(config.QatEpochs), .. Common()]);
            ExportAndQuantize("qat", Out("qat"));
            var qat = Onnx("qat", Out("qat.int8.onnx"), "INT8");
            points.Add(qat);
            if (qat.Top1 > ptq.Top1) chosen = qat;
        }
        else progress.Message(string.Create(CultureInfo.InvariantCulture, $"post-training INT8 loses {loss:0.00} points ({(config.Qat == "never" ? "qat: never" : $"at most {config.MaxPtqLoss}")}): no quantization-aware fine-tuning"));
        final = chosen.Model;

        var report = Out("report");
        Directory.CreateDirectory(report);
        var camRun = chosen.Stage == "qat" ? Out("qat") : Out("pruned");
        var cams = GradCams(camRun, set, report);
        AtomicFile.Write(Path.Combine(report, "accuracy-latency.png"), ReportWriter.AccuracyLatencyPng(points));
        AtomicFile.WriteText(Path.Combine(report, "report.md"), PipelineReport.Markdown(data, evalName, config with { TeacherArch = teacherArch ?? "train's default" }, _stages, points, final, cams));
        var summary = new PipelineSummary(output, data, evalData, config, _stages, points, final, Path.Combine(report, "report.md"));
        AtomicFile.WriteText(Out(SummaryFile), JsonSerializer.Serialize(summary, PipelineJson.Default.PipelineSummary));
        return summary;

        string ExportAndQuantize(string stage, string run)
        {
            var onnx = Out($"{stage}.onnx");
            var int8 = Out($"{stage}.int8.onnx");
            Stage($"{stage} export", onnx, File.Exists(onnx), false, ["export", run, "--out", onnx]);
            Stage($"{stage} quantize", int8, File.Exists(int8), false,
                ["quantize", onnx, int8, "--calibration", data, "--samples", I(config.CalibrationSamples), "--no-latency", .. Threads()]);
            return int8;
        }
    }

    /// <summary>The settings of an earlier run in this folder must be these: a stage's output is only reused for the settings that made it.</summary>
    private void CheckSettings()
    {
        var settings = Out("settings.json");
        var mine = JsonSerializer.Serialize(new PipelineSummary(output, data, testData, config, [], [], null, null) with { Out = "" }, PipelineJson.Default.PipelineSummary);
        if (File.Exists(settings) && File.ReadAllText(settings) != mine)
            throw new CliError($"'{output}' holds a pipeline made with other data or settings ({settings}): choose another --out, or rerun with those settings");
        Directory.CreateDirectory(output);
        AtomicFile.WriteText(settings, mine);
    }

    private void Train(string stage, int epochs, string[] args)
    {
        var run = new RunFolder(args[Array.IndexOf(args, "--out") + 1]);
        var last = Path.Combine(run.Last, Checkpoint.StateFile);
        var done = File.Exists(last) && Checkpoint.ReadState(run.Last).Epoch >= epochs;
        Stage(stage, run.Root, done, File.Exists(last), args);
    }

    /// <summary>
    /// Runs one stage unless <paramref name="done"/>; <paramref name="started"/> adds --resume. Once a stage has
    /// run, what later stages made came from its old output: their output is removed and they run afresh.
    /// </summary>
    private void Stage(string stage, string output, bool done, bool started, string[] args)
    {
        var line = "edge-prep " + string.Join(' ', args.Select(Quote));
        if (_upstreamRan && (done || started || File.Exists(output) || Directory.Exists(output)))
        {
            progress.Message($"{stage}: an earlier stage ran again, so {output} is made again");
            if (Directory.Exists(output)) Directory.Delete(output, true);
            else File.Delete(output);
            (done, started) = (false, false);
        }
        if (done)
        {
            progress.Message($"{stage}: done before, kept");
            _stages.Add(new PipelineStage(stage, line, "kept", 0));
            return;
        }
        string[] run = started ? [.. args, "--resume"] : args;
        progress.Message($"{stage}: {(started ? "resuming" : "running")} {line}{(started ? " --resume" : "")}");
        var clock = Stopwatch.StartNew();
        // A stage's tables and summaries are progress here: standard output is the pipeline's own (its --json).
        var stdout = Console.Out;
        Console.SetOut(Console.Error);
        int code;
        try { code = Program.Invoke(run); }
        finally { Console.SetOut(stdout); }
        _upstreamRan = true;
        if (code != 0) throw new StageFailedException(stage, code); // the stage said why, in its own one line
        _stages.Add(new PipelineStage(stage, line, started ? "resumed" : "ran", Math.Round(clock.Elapsed.TotalSeconds, 1)));
        progress.Message(string.Create(CultureInfo.InvariantCulture, $"{stage}: done in {clock.Elapsed.TotalMinutes:0.0} min"));
    }

    /// <summary>Grad-CAM of the final network over the first images of each class: (class, file) pairs, the files named by index.</summary>
    private List<(string Class, string File)> GradCams(string run, ImageSet set, string folder)
    {
        var cams = new List<(string, string)>();
        if (config.GradCamPerClass == 0 || set.Classes is not { } classes) return cams;
        var (net, state) = Checkpoint.Load(run);
        using var _ = net;
        var spec = CheckpointEvaluator.Preprocessing(state);
        var preprocessor = new Preprocessor(spec);
        using var decoder = new ImageDecoder();
        using var pixels = new PixelBuffer();
        var buffer = new float[preprocessor.TensorLength];
        var taken = new int[classes.Count];
        for (var i = 0; i < set.Count && cams.Count < config.GradCamPerClass * Math.Min(classes.Count, 20); i++)
        {
            var label = set.Label(i);
            if (label < 0 || label >= classes.Count || taken[label] >= config.GradCamPerClass || label >= 20) continue;
            try { set.Load(i, decoder, pixels, ScaleHint.For(spec)); }
            catch (Exception e) when (e is ImageDecodeException or IOException) { continue; }
            preprocessor.Run(pixels.View, buffer);
            using var input = tensor(buffer, [1, spec.Channels, spec.Height, spec.Width]);
            var cam = GradCam.Explain(net, input);
            if (!cam.Finite) continue;
            // Class names come from folder names: never part of a file name.
            var file = $"gradcam-{label:00}-{taken[label]}.png";
            AtomicFile.Write(Path.Combine(folder, file), HeatmapOverlay.Png(HeatmapOverlay.Pixels(buffer, spec), cam.Heatmap, cam.Width, cam.Height));
            cams.Add(($"{classes[label]} (predicted {state.Classes[cam.Predicted]})", file));
            taken[label]++;
        }
        return [.. cams.OrderBy(c => c.Item2, StringComparer.Ordinal)];
    }

    /// <summary>A stage stopped (it said why): the pipeline stops with its exit code, keeping what is done.</summary>
    public sealed class StageFailedException(string stage, int code) : Exception($"stage '{stage}' stopped with exit code {code}")
    {
        public string Stage { get; } = stage;
        public int Code { get; } = code;
    }

    private string[] Threads() => config.Threads > 0 ? ["--threads", I(config.Threads)] : [];
    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
    private static string D(double v) => v.ToString(CultureInfo.InvariantCulture);
    private static string Quote(string a) => a.Length > 0 && a.All(c => char.IsLetterOrDigit(c) || "-_./:%=,".Contains(c)) ? a : $"'{a.Replace("'", "'\\''")}'";
}
