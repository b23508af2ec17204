using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Core.Datasets;
using Edge.Core.Inference;
using Edge.ModelPrep.Data;
using Edge.ModelPrep.Evaluation;
using Edge.ModelPrep.Export;
using Edge.ModelPrep.Models;
using Edge.ModelPrep.Training;
using Google.Protobuf;
using Spectre.Console;

namespace Edge.ModelPrep.Commands;

public sealed record TrainSummary(
    [property: JsonPropertyName("run")] string Run,
    [property: JsonPropertyName("epochs")] int Epochs,
    [property: JsonPropertyName("best_epoch")] int BestEpoch,
    [property: JsonPropertyName("best_val_accuracy")] double BestValAccuracy,
    [property: JsonPropertyName("stopped_early")] bool StoppedEarly,
    [property: JsonPropertyName("images_per_second")] double ImagesPerSecond,
    [property: JsonPropertyName("data_wait_fraction")] double DataWaitFraction,
    [property: JsonPropertyName("train_images")] int TrainImages,
    [property: JsonPropertyName("val_images")] int ValImages,
    [property: JsonPropertyName("skipped_images")] int SkippedImages,
    [property: JsonPropertyName("test")] EvalReport? Test);

public sealed record ExportSummary(
    [property: JsonPropertyName("output")] string Output,
    [property: JsonPropertyName("architecture")] string Architecture,
    [property: JsonPropertyName("macs")] long Macs,
    [property: JsonPropertyName("parity_max_abs_diff")] double ParityMaxAbsDiff,
    [property: JsonPropertyName("parity_random_scaled_diff")] double ParityRandomScaledDiff,
    [property: JsonPropertyName("parity_images")] int ParityImages,
    [property: JsonPropertyName("bytes")] long Bytes);

[JsonSourceGenerationOptions(WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TrainSummary))]
[JsonSerializable(typeof(ExportSummary))]
internal sealed partial class CommandJson : JsonSerializerContext;

/// <summary><c>edge-prep train</c>, <c>export</c> and <c>eval</c>.</summary>
internal static class TrainCommands
{
    private static int Fail(string message)
    {
        Console.Error.WriteLine($"edge-prep: {message}");
        return 1;
    }

    private static bool IsUserError(Exception e) =>
        e is ArgumentException or DatasetException or CheckpointException or ExportException or ModelLoadException or IOException or UnauthorizedAccessException;

    public static Command Train()
    {
        var data = new Option<string>("--data", "-d") { Description = "fashion-mnist, an ImageFolder tree (root/<class>/*.jpg|png) or an IDX images file", Required = true };
        var testData = new Option<string?>("--test-data") { Description = "Held-out test set evaluated at the end (default: fashion-mnist's test split for fashion-mnist, else none)" };
        var outDir = new Option<string>("--out", "-o") { Description = "Run folder (config, checkpoints, metrics.csv, TensorBoard events, report)", Required = true };
        var arch = new Option<string>("--arch") { Description = string.Join(", ", ArchSpec.Names), DefaultValueFactory = _ => "mobilenetv2" };
        var width = new Option<double>("--width") { Description = "Width multiplier", DefaultValueFactory = _ => 1.0 };
        var size = new Option<int?>("--input-size") { Description = "Square input size (default: 28 for IDX data, 224 for image folders)" };
        var color = new Option<string?>("--color") { Description = "gray, rgb or bgr (default: gray for IDX data, rgb for image folders)" };
        var resize = new Option<string>("--resize") { Description = "squash, center-crop or letterbox (what the daemon will do)", DefaultValueFactory = _ => "squash" };
        var epochs = new Option<int>("--epochs", "-e") { Description = "Epochs", DefaultValueFactory = _ => 20 };
        var batch = new Option<int>("--batch-size", "-b") { Description = "Batch size", DefaultValueFactory = _ => 128 };
        var optimizer = new Option<string>("--optimizer") { Description = "sgd (momentum, Nesterov) or adamw", DefaultValueFactory = _ => "sgd" };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate (default: 0.1 for sgd, 0.002 for adamw)" };
        var momentum = new Option<double>("--momentum") { DefaultValueFactory = _ => 0.9, Description = "SGD momentum" };
        var wd = new Option<double?>("--weight-decay") { Description = "Weight decay (default: 5e-4 for sgd, 0.05 for adamw)" };
        var warmup = new Option<double>("--warmup-epochs") { Description = "Linear warm-up before the cosine schedule", DefaultValueFactory = _ => 0.5 };
        var smoothing = new Option<double>("--label-smoothing") { DefaultValueFactory = _ => 0.1, Description = "Label smoothing for cross-entropy" };
        var loss = new Option<string>("--loss") { Description = "cross-entropy or focal", DefaultValueFactory = _ => "cross-entropy" };
        var gamma = new Option<double>("--focal-gamma") { DefaultValueFactory = _ => 2.0, Description = "Focal loss gamma" };
        var balance = new Option<string>("--balance") { Description = "none, sampler (class-balanced sampling) or weights (inverse-frequency class weights)", DefaultValueFactory = _ => "none" };
        var clip = new Option<double>("--clip-grad-norm") { DefaultValueFactory = _ => 5.0, Description = "Clip the gradient norm (0 = off)" };
        var patience = new Option<int>("--patience") { DefaultValueFactory = _ => 0, Description = "Early stopping: epochs without validation improvement (0 = off)" };
        var valFraction = new Option<double>("--val-fraction") { DefaultValueFactory = _ => 0.1, Description = "Fraction of each class held out for validation" };
        var maxImages = new Option<int>("--max-images") { DefaultValueFactory = _ => 0, Description = "Use a seeded subset of this many images (0 = all)" };
        var augment = new Option<string?>("--augment") { Description = "none, light or default (default: light for IDX data, default for image folders)" };
        var dropout = new Option<double>("--dropout") { DefaultValueFactory = _ => 0.2, Description = "Dropout before the classifier (MobileNets)" };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1, Description = "Seed for weights, split, order and augmentation" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 0, Description = "libtorch threads (0 = libtorch's default)" };
        var workers = new Option<int>("--workers") { DefaultValueFactory = _ => 1, Description = "Threads preparing batches beside the training step" };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu", Description = "cpu, or cuda when a CUDA build of libtorch is present" };
        var maxSteps = new Option<int>("--max-steps") { DefaultValueFactory = _ => 0, Description = "Stop after this many steps (0 = no limit)" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its last checkpoint" };
        var noEval = new Option<bool>("--no-eval") { Description = "Skip the final test-set evaluation and report" };
        var json = new Option<bool>("--json") { Description = "Write a JSON summary to standard output" };
        var command = new Command("train", "Train a classifier with TorchSharp, checkpoint every epoch, and evaluate it");
        foreach (var o in new Option[] { data, testData, outDir, arch, width, size, color, resize, epochs, batch, optimizer, lr, momentum, wd, warmup, smoothing, loss, gamma, balance, clip, patience, valFraction, maxImages, augment, dropout, seed, threads, workers, device, maxSteps, resume, noEval, json })
            command.Options.Add(o);
        command.SetAction(r =>
        {
            using var progress = new ConsoleProgress(quiet: false);
            try
            {
                var dataSpec = r.GetValue(data)!;
                var isFolder = Directory.Exists(dataSpec);
                var set = ImageSets.Open(dataSpec, "train");
                if (set.Classes is null) throw new DatasetException($"'{dataSpec}' has no class folders: training needs an ImageFolder tree (root/<class>/*.jpg)");
                var opt = r.GetValue(optimizer)!.ToLowerInvariant();
                var options = new TrainOptions
                {
                    Data = dataSpec,
                    TestData = r.GetValue(testData) ?? (dataSpec.StartsWith("fashion-mnist", StringComparison.OrdinalIgnoreCase) ? "fashion-mnist:test" : null),
                    Arch = new ArchSpec
                    {
                        Arch = r.GetValue(arch)!.ToLowerInvariant(), Width = r.GetValue(width),
                        InputSize = r.GetValue(size) ?? (isFolder ? 224 : 28),
                        Channels = (r.GetValue(color) ?? (isFolder ? "rgb" : "gray")) is "gray" or "grey" ? 1 : 3,
                        Classes = set.Classes.Count, Dropout = r.GetValue(dropout),
                    },
                    Color = r.GetValue(color) ?? (isFolder ? "rgb" : "gray"),
                    Resize = r.GetValue(resize)!,
                    Epochs = r.GetValue(epochs), BatchSize = r.GetValue(batch), Optimizer = opt,
                    LearningRate = r.GetValue(lr) ?? (opt == "adamw" ? 0.002 : 0.1),
                    Momentum = r.GetValue(momentum),
                    WeightDecay = r.GetValue(wd) ?? (opt == "adamw" ? 0.05 : 5e-4),
                    WarmupEpochs = r.GetValue(warmup), LabelSmoothing = r.GetValue(smoothing), Loss = r.GetValue(loss)!.ToLowerInvariant(),
                    FocalGamma = r.GetValue(gamma),
                    Balance = r.GetValue(balance)!.ToLowerInvariant() switch
                    {
                        "none" => Balancing.None, "sampler" => Balancing.Sampler, "weights" => Balancing.Weights,
                        var b => throw new ArgumentException($"--balance '{b}': expected none, sampler or weights"),
                    },
                    ClipGradNorm = r.GetValue(clip), Patience = r.GetValue(patience), ValFraction = r.GetValue(valFraction),
                    MaxImages = r.GetValue(maxImages),
                    Augmentation = AugmentationOptions.Preset(r.GetValue(augment) ?? (isFolder ? "default" : "light")),
                    Seed = r.GetValue(seed), Threads = r.GetValue(threads), Workers = r.GetValue(workers), Device = r.GetValue(device)!,
                    MaxSteps = r.GetValue(maxSteps),
                };
                options.Validate();
                var run = new RunFolder(r.GetValue(outDir)!);
                if (!r.GetValue(resume) && File.Exists(run.Config))
                    throw new ArgumentException($"'{run.Root}' already holds a run: pass --resume to continue it, or choose another --out");
                progress.Message($"training {options.Arch.Describe()} on {options.Data} for {options.Epochs} epochs into {run.Root}");
                using var cancel = new CancellationTokenSource();
                Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); progress.Message("stopping after this step (the last checkpoint is kept)"); };
                var result = new Trainer(options, run, progress, set).Run(r.GetValue(resume), cancel.Token);
                EvalReport? test = null;
                if (!r.GetValue(noEval))
                {
                    var evalData = options.TestData is not null ? ImageSets.Open(options.TestData, "test") : null;
                    if (evalData is not null)
                    {
                        progress.Message($"evaluating the best checkpoint (epoch {result.Best.Epoch}) on {options.TestData}");
                        test = Evaluator.EvaluateCheckpoint(run.Best is var b && Directory.Exists(b) ? b : run.Last, evalData,
                            [.. Enumerable.Range(0, evalData.Count)], options.Threads > 0 ? options.Threads : 1, 100);
                        ReportWriter.Write(run.Report, test, ReadHistory(run.Metrics));
                        progress.Message(string.Create(CultureInfo.InvariantCulture, $"test: top-1 {test.Top1:0.00}%, top-5 {test.Top5:0.00}% on {test.Images} images; report in {run.Report}"));
                    }
                }
                var summary = new TrainSummary(run.Root, result.Last.Epoch, result.Best.BestEpoch, result.Best.BestValAccuracy, result.StoppedEarly,
                    result.Epochs.Count > 0 ? result.Epochs.Average(e => e.ImagesPerSecond) : 0, result.DataWaitFraction,
                    result.TrainImages, result.ValImages, result.Skipped.Count, test);
                if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(summary, CommandJson.Default.TrainSummary));
                return 0;
            }
            catch (Exception e) when (IsUserError(e))
            {
                progress.Dispose();
                return Fail(e.Message);
            }
        });
        return command;
    }

    /// <summary>Reads a run's metrics.csv back (for plots of a finished or resumed run).</summary>
    public static List<EpochMetrics> ReadHistory(string csv)
    {
        var list = new List<EpochMetrics>();
        if (!File.Exists(csv)) return list;
        foreach (var line in File.ReadLines(csv).Skip(1))
        {
            var f = line.Split(',');
            if (f.Length < 10) continue;
            double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);
            double? N(string s) => s.Length == 0 ? null : D(s);
            list.Add(new EpochMetrics(int.Parse(f[0], CultureInfo.InvariantCulture), int.Parse(f[1], CultureInfo.InvariantCulture), D(f[2]), D(f[3]), D(f[4]), N(f[5]), N(f[6]), D(f[7]), D(f[8]), D(f[9])));
        }
        return list;
    }

    public static Command Export()
    {
        var input = new Argument<string>("checkpoint") { Description = "A run folder (its best checkpoint) or a checkpoint folder" };
        var output = new Option<string>("--out", "-o") { Description = "ONNX file to write", Required = true };
        var parityImages = new Option<int>("--parity-images") { DefaultValueFactory = _ => 64, Description = "Real images from the training data used for the parity check" };
        var json = new Option<bool>("--json") { Description = "Write a JSON summary to standard output" };
        var command = new Command("export", "Write a checkpoint as ONNX (opset 17, BatchNorm folded, labels and preprocessing inside) after checking ONNX Runtime against TorchSharp");
        command.Arguments.Add(input);
        foreach (var o in new Option[] { output, parityImages, json }) command.Options.Add(o);
        command.SetAction(r =>
        {
            try
            {
                var (net, state) = Checkpoint.Load(r.GetValue(input)!);
                using var _ = net;
                var preprocessing = Evaluator.Preprocessing(state);
                var model = ModelExporter.ToOnnx(net, new ExportInfo(state.Classes, preprocessing, state.Data, state.ValAccuracy));
                // Parity on real images: the run's own data, preprocessed by Edge.Core as the daemon will.
                var set = ImageSets.Open(state.Data, "test");
                var n = Math.Min(r.GetValue(parityImages), set.Count);
                var images = TensorImageSet.Build(set, preprocessing, subset: set.Sample(n, 7));
                var loader = new BatchLoader(images, [.. Enumerable.Range(0, images.Count)], images.Count, AugmentationOptions.None, state.Mean, state.Std, 0, shuffle: false);
                var inputs = loader.Epoch(0).First().Images.AsSpan(0, images.Count * images.ImageLength).ToArray();
                var parity = ModelExporter.CheckParity(net, model, inputs, images.Count);
                if (!parity.Passed)
                    return Fail(string.Create(CultureInfo.InvariantCulture,
                        $"refusing to write '{r.GetValue(output)}': ONNX Runtime differs from TorchSharp by {parity.MaxAbsDiff:g3} on real images (random inputs: {parity.MaxScaledDiffRandom:g3}), over the {ParityResult.Tolerance:g} tolerance"));
                var path = r.GetValue(output)!;
                var dir = Path.GetDirectoryName(Path.GetFullPath(path));
                if (dir is not null) Directory.CreateDirectory(dir);
                var bytes = model.ToByteArray();
                File.WriteAllBytes(path, bytes);
                var macs = ModelExporter.CountMacs(net);
                var summary = new ExportSummary(path, state.Arch.Describe(), macs, parity.MaxAbsDiff, parity.MaxScaledDiffRandom, parity.Images, bytes.Length);
                if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(summary, CommandJson.Default.ExportSummary));
                else Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"wrote {path} ({bytes.Length / 1024.0:0} KiB, {state.Arch.Describe()}, {macs / 1e6:0.##} M MACs); parity on {parity.Images} images: max |onnx - torch| {parity.MaxAbsDiff:g3}"));
                return 0;
            }
            catch (Exception e) when (IsUserError(e))
            {
                return Fail(e.Message);
            }
        });
        return command;
    }

    public static Command Eval()
    {
        var input = new Argument<string>("model") { Description = "An ONNX file (run through Edge.Core, as the daemon does), a run folder or a checkpoint folder" };
        var data = new Option<string?>("--data", "-d") { Description = "Labelled images: fashion-mnist (test split), an ImageFolder tree or an IDX file (default: the run's test data)" };
        var outDir = new Option<string?>("--out", "-o") { Description = "Report folder (report.md, metrics.json, PNG plots)" };
        var max = new Option<int>("--max-images") { DefaultValueFactory = _ => 0, Description = "Evaluate a seeded subset (0 = all)" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 1, Description = "ONNX Runtime threads for evaluation and latency" };
        var latency = new Option<int>("--latency-runs") { DefaultValueFactory = _ => 100, Description = "Batch-1 latency measurements (0 = skip)" };
        var json = new Option<bool>("--json") { Description = "Write metrics as JSON to standard output" };
        var command = new Command("eval", "Evaluate a checkpoint or an ONNX model: top-1/top-5, per-class precision/recall/F1, confusion matrix, latency");
        command.Arguments.Add(input);
        foreach (var o in new Option[] { data, outDir, max, threads, latency, json }) command.Options.Add(o);
        command.SetAction(r =>
        {
            try
            {
                var path = r.GetValue(input)!;
                var isOnnx = File.Exists(path);
                string? dataSpec = r.GetValue(data);
                IReadOnlyList<EpochMetrics>? history = null;
                if (!isOnnx)
                {
                    var run = new RunFolder(path);
                    if (File.Exists(run.Metrics)) history = ReadHistory(run.Metrics);
                    if (dataSpec is null)
                    {
                        var state = Checkpoint.ReadState(Checkpoint.Resolve(path));
                        dataSpec = state.Data.StartsWith("fashion-mnist", StringComparison.OrdinalIgnoreCase) ? "fashion-mnist:test" : state.Data;
                    }
                }
                if (dataSpec is null) throw new ArgumentException("--data is required to evaluate an ONNX file");
                var set = ImageSets.Open(dataSpec, "test");
                var indices = r.GetValue(max) is > 0 and var m && m < set.Count ? set.Sample(m, 0) : [.. Enumerable.Range(0, set.Count)];
                var report = isOnnx
                    ? Evaluator.EvaluateOnnx(path, set, indices, r.GetValue(threads), r.GetValue(latency))
                    : Evaluator.EvaluateCheckpoint(path, set, indices, r.GetValue(threads), r.GetValue(latency));
                var folder = r.GetValue(outDir);
                if (folder is not null) ReportWriter.Write(folder, report, history);
                if (r.GetValue(json)) Console.WriteLine(ReportWriter.ToJson(report));
                else
                {
                    var table = new Table().AddColumns("class", "support", "precision", "recall", "F1");
                    foreach (var c in report.PerClass)
                        table.AddRow(Markup.Escape(c.Label), c.Support.ToString(CultureInfo.InvariantCulture), c.Precision.ToString("0.000", CultureInfo.InvariantCulture),
                            c.Recall.ToString("0.000", CultureInfo.InvariantCulture), c.F1.ToString("0.000", CultureInfo.InvariantCulture));
                    AnsiConsole.Write(table);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"top-1 {report.Top1:0.00}%  top-5 {report.Top5:0.00}%  macro F1 {report.MacroF1:0.0000}  ({report.Images} images{(report.Skipped > 0 ? $", {report.Skipped} skipped" : "")})"));
                    if (report.Latency is { } l)
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"latency (ONNX Runtime, batch 1, {l.Threads} thread(s)): median {l.P50Ms:0.###} ms, p90 {l.P90Ms:0.###} ms"));
                }
                return 0;
            }
            catch (Exception e) when (IsUserError(e))
            {
                return Fail(e.Message);
            }
        });
        return command;
    }
}
