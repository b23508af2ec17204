using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Cli;
using Edge.Core.Inference;
using Edge.Host.Datasets;
using Edge.Host.Evaluation;
using Edge.ModelPrep.Data;
using Edge.ModelPrep.Evaluation;
using Edge.ModelPrep.Export;
using Edge.ModelPrep.Models;
using Edge.ModelPrep.Training;
using Edge.Onnx.IO;
using Google.Protobuf;
using Spectre.Console;

namespace Edge.ModelPrep.Commands;

public sealed record TrainSummary(
    string Run,
    int Epochs,
    int BestEpoch,
    double BestValAccuracy,
    bool StoppedEarly,
    double ImagesPerSecond,
    double DataWaitFraction,
    int TrainImages,
    int ValImages,
    int SkippedImages,
    EvalReport? Test,
    MemorySummary? Memory = null);

/// <summary>Training's memory: the estimate made before the first step, and the peak it reached (resident set).</summary>
public sealed record MemorySummary(
    int BatchSize,
    double EstimateMib,
    double LimitMib,
    double PeakRssMib);

public sealed record ExportSummary(
    string Output,
    string Architecture,
    long Macs,
    double ParityMaxAbsDiff,
    double ParityRandomScaledDiff,
    int ParityImages,
    long Bytes);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonNaming.Policy, WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TrainSummary))]
[JsonSerializable(typeof(ExportSummary))]
internal sealed partial class CommandJson : JsonSerializerContext;

/// <summary><c>edge-prep train</c>, <c>export</c> and <c>eval</c>.</summary>
internal static class TrainCommands
{
    public static Command Train() => Build(distill: false);

    /// <summary><c>edge-prep distill --teacher T</c>: <c>train</c> with a teacher's soft targets (Hinton's loss).</summary>
    public static Command Distill() => Build(distill: true);

    private static Command Build(bool distill)
    {
        var data = new Option<string>("--data", "-d") { Description = "fashion-mnist, an ImageFolder tree (root/<class>/*.jpg|png) or an IDX images file", Required = true };
        var testData = new Option<string?>("--test-data") { Description = "Held-out test set evaluated at the end (default: fashion-mnist's test split for fashion-mnist, else none)" };
        var outDir = new Option<string>("--out", "-o") { Description = "Run folder (config, checkpoints, metrics.csv, TensorBoard events, report)", Required = true };
        var arch = new Option<string?>("--arch") { Description = $"{string.Join(", ", ArchSpec.Names)} (default: resnet18 from ImageNet for image folders, else mobilenetv2)" };
        var pretrained = new Option<string?>("--pretrained") { Description = "imagenet (the default for image folders with resnet18), an ONNX ResNet backbone file, or none" };
        var headEpochs = new Option<double?>("--head-epochs") { Description = "With a pretrained start: epochs training only the new classifier first (default 0)" };
        var backboneLr = new Option<double?>("--backbone-lr-factor") { Description = "With a pretrained start: the backbone's learning rate as a fraction of the classifier's (default 1)" };
        var maxMemory = new Option<double>("--max-memory") { Description = "Most memory training may take, in MiB (default: what is available, less 10%)", DefaultValueFactory = _ => 0 };
        var width = new Option<double>("--width") { Description = "Width multiplier", DefaultValueFactory = _ => 1.0 };
        var size = new Option<int?>("--input-size") { Description = "Square input size (default: 28 for IDX data; for image folders, from the images' sizes)" };
        var color = new Option<string?>("--color") { Description = "gray, rgb or bgr (default: gray for IDX data, rgb for image folders)" };
        var resize = new Option<string>("--resize") { Description = "squash, center-crop or letterbox (what the daemon will do)", DefaultValueFactory = _ => "squash" };
        var epochs = new Option<int>("--epochs", "-e") { Description = "Epochs", DefaultValueFactory = _ => 20 };
        var batch = new Option<int?>("--batch-size", "-b") { Description = "Batch size (default: 128 for IDX data; for image folders, chosen so a small set gets enough steps, and made smaller to fit in memory)" };
        var optimizer = new Option<string>("--optimizer") { Description = "sgd (momentum, Nesterov) or adamw", DefaultValueFactory = _ => "sgd" };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate (default: 0.1 for sgd, 0.002 for adamw; 0.02 from a pretrained start)" };
        var momentum = new Option<double>("--momentum") { DefaultValueFactory = _ => 0.9, Description = "SGD momentum" };
        var wd = new Option<double?>("--weight-decay") { Description = "Weight decay (default: 5e-4 for sgd, 0.05 for adamw; 1e-4 from a pretrained start)" };
        var warmup = new Option<double?>("--warmup-epochs") { Description = "Linear warm-up before the cosine schedule (default 0.5; none from a pretrained start)" };
        var smoothing = new Option<double>("--label-smoothing") { DefaultValueFactory = _ => 0.1, Description = "Label smoothing for cross-entropy" };
        var loss = new Option<string>("--loss") { Description = "cross-entropy or focal", DefaultValueFactory = _ => "cross-entropy" };
        var gamma = new Option<double>("--focal-gamma") { DefaultValueFactory = _ => 2.0, Description = "Focal loss gamma" };
        var balance = new Option<string>("--balance") { Description = "none, sampler (class-balanced sampling) or weights (inverse-frequency class weights)", DefaultValueFactory = _ => "none" };
        var clip = new Option<double>("--clip-grad-norm") { DefaultValueFactory = _ => 5.0, Description = "Clip the gradient norm (0 = off)" };
        var patience = new Option<int>("--patience") { DefaultValueFactory = _ => 0, Description = "Early stopping: epochs without validation improvement (0 = off)" };
        var valFraction = new Option<double>("--val-fraction") { DefaultValueFactory = _ => 0.1, Description = "Fraction of each class held out for validation" };
        var maxImages = new Option<int>("--max-images") { DefaultValueFactory = _ => 0, Description = "Use a seeded subset of this many images (0 = all)" };
        var augment = new Option<string?>("--augment") { Description = "none, light or default (default: light for IDX data and pretrained starts, default for image folders from scratch)" };
        var stemStride = new Option<int?>("--stem-stride") { Description = "Stride of the first convolution, 1 or 2 (default: the architecture's own for the input size); 2 halves every feature map, for speed on small inputs" };
        var dropout = new Option<double>("--dropout") { DefaultValueFactory = _ => 0.2, Description = "Dropout before the classifier (MobileNets)" };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1, Description = "Seed for weights, split, order and augmentation" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 0, Description = "libtorch threads (0 = libtorch's default)" };
        var workers = new Option<int>("--workers") { DefaultValueFactory = _ => 1, Description = "Threads preparing batches beside the training step" };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu", Description = "cpu, or cuda when a CUDA build of libtorch is present" };
        var maxSteps = new Option<int>("--max-steps") { DefaultValueFactory = _ => 0, Description = "Stop after this many steps (0 = no limit)" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its last checkpoint" };
        var noEval = new Option<bool>("--no-eval") { Description = "Skip the final test-set evaluation and report" };
        var json = new Option<bool>("--json") { Description = "Write a JSON summary to standard output" };
        var teacher = new Option<string>("--teacher") { Description = "The teacher: a run folder, a checkpoint folder or an ONNX classifier (run with its own preprocessing)", Required = true };
        var temperature = new Option<double>("--temperature") { Description = "Softmax temperature of the teacher's soft targets", DefaultValueFactory = _ => 4 };
        var alpha = new Option<double>("--alpha") { Description = "Weight of the soft targets against the labels (0..1)", DefaultValueFactory = _ => 0.7 };
        var command = distill
            ? new Command("distill", "Train a (small) student from a teacher's soft targets and the labels (knowledge distillation), checkpoint every epoch, and evaluate it")
            : new Command("train", "Train a classifier with TorchSharp, checkpoint every epoch, and evaluate it");
        if (distill) foreach (var o in new Option[] { teacher, temperature, alpha }) command.Options.Add(o);
        foreach (var o in new Option[] { data, testData, outDir, arch, pretrained, headEpochs, backboneLr, width, stemStride, size, color, resize, epochs, batch, optimizer, lr, momentum, wd, warmup, smoothing, loss, gamma, balance, clip, patience, valFraction, maxImages, augment, dropout, seed, threads, workers, device, maxSteps, maxMemory, resume, noEval, json })
            command.Options.Add(o);
        command.SetAction(r => Program.Errors.Run(() =>
        {
            using var progress = new ConsoleProgress(quiet: false);
            {
                var dataSpec = r.GetValue(data)!;
                var isFolder = Directory.Exists(dataSpec);
                var set = ImageSets.Open(dataSpec, "train");
                foreach (var w in set.Warnings) progress.Message($"warning: {w}");
                var classes = TensorImageSet.RequireClasses(set);
                // Test data is opened now, not after an hour of training, so a typo fails at once.
                var testSpec = r.GetValue(testData);
                var testSet = testSpec is not null && !r.GetValue(noEval) ? ImageSets.Open(testSpec, "test") : null;
                if (testSet is not null)
                {
                    if (testSet.Classes is null) throw new DatasetException($"--test-data '{testSpec}' has no labels (class folders): it cannot be scored");
                    try { LabelMatcher.Map(testSet.Classes, classes, "the training data's classes"); }
                    catch (DatasetException e) { throw new DatasetException($"--test-data '{testSpec}': {e.Message}"); }
                }
                if (distill && r.GetValue(teacher) is { } teacherPath && !File.Exists(teacherPath) && !Directory.Exists(teacherPath))
                    throw new CliError($"--teacher '{teacherPath}': no such file or folder", ExitCodes.Usage);
                var opt = r.GetValue(optimizer)!.ToLowerInvariant();
                var archName = r.GetValue(arch)?.ToLowerInvariant();
                // An ImageNet start for image folders, when the architecture is the one it exists for.
                var pretrainedPath = r.GetValue(pretrained)?.ToLowerInvariant() switch
                {
                    "none" => null,
                    // A student is small (its teacher is the large pretrained one): no pretrained start unless asked.
                    null => !distill && isFolder && archName is null or "resnet18" ? PretrainedBackbone.ImageNet : null,
                    var p => r.GetValue(pretrained),
                };
                var weights = pretrainedPath is null ? null : PretrainedBackbone.Read(PretrainedBackbone.Resolve(pretrainedPath));
                if (weights is not null && archName is not null && archName != weights.Spec(32, 2).Arch)
                    throw new CliError($"--pretrained '{pretrainedPath}' is a {weights.Spec(32, 2).Arch} backbone; --arch {archName} cannot start from it (or pass --pretrained none)");
                if (weights is not null && r.GetValue(color) is { } givenColor && !givenColor.Equals("bgr", StringComparison.OrdinalIgnoreCase))
                    throw new CliError($"--color {givenColor}: the pretrained backbone was trained on BGR input; leave --color out (or pass --pretrained none)");
                var inputSize = r.GetValue(size) ?? (isFolder ? InputSizeFor(set, weights is not null, progress) : 28);
                if (weights is not null && inputSize < 32)
                    throw new CliError($"--input-size {inputSize}: a pretrained start needs at least 32 pixels (the backbone halves them 5 times); pass --input-size 64 or --pretrained none");
                if (weights is not null)
                    foreach (var (flag, given) in new[] { ("--width", r.GetResult(width) is { Implicit: false }), ("--dropout", r.GetResult(dropout) is { Implicit: false }), ("--stem-stride", r.GetValue(stemStride) is not null) })
                        if (given) progress.Message($"warning: {flag} is ignored with a pretrained start (the backbone is as it was trained)");
                if (weights is null)
                    foreach (var (flag, given) in new[] { ("--head-epochs", r.GetValue(headEpochs) is not null), ("--backbone-lr-factor", r.GetValue(backboneLr) is not null) })
                        if (given) progress.Message($"warning: {flag} is ignored without a pretrained start");
                var classCount = classes.Count;
                var spec = weights?.Spec(inputSize, classCount) ?? new ArchSpec
                {
                    Arch = archName ?? "mobilenetv2", Width = r.GetValue(width), StemStride = r.GetValue(stemStride),
                    InputSize = inputSize,
                    Channels = (r.GetValue(color) ?? (isFolder ? "rgb" : "gray")) is "gray" or "grey" ? 1 : 3,
                    Classes = classCount, Dropout = r.GetValue(dropout),
                };
                var trainImages = (int)Math.Round(set.Count * (1 - r.GetValue(valFraction)));
                var batchSize = r.GetValue(batch) ?? (isFolder ? BatchFor(trainImages, progress) : 128);
                var epochCount = r.GetValue(epochs);
                var options = new TrainOptions
                {
                    Data = dataSpec,
                    TestData = r.GetValue(testData) ?? (dataSpec.StartsWith("fashion-mnist", StringComparison.OrdinalIgnoreCase) ? "fashion-mnist:test" : null),
                    Arch = spec,
                    Color = weights is not null ? "bgr" : r.GetValue(color) ?? (isFolder ? "rgb" : "gray"),
                    Mean = weights is not null ? PretrainedBackbone.Mean : null,
                    Std = weights is not null ? PretrainedBackbone.Std : null,
                    Pretrained = weights?.Source,
                    Teacher = distill ? r.GetValue(teacher) : null,
                    Temperature = distill ? r.GetValue(temperature) : 4,
                    Alpha = distill ? r.GetValue(alpha) : 0.7,
                    // Measured on 1,000 Fashion-MNIST photos (README): all layers at one rate from the first step beat
                    // training the head first and a slower backbone (85% against 63-81% after 5 epochs).
                    HeadEpochs = weights is null ? 0 : r.GetValue(headEpochs) ?? 0,
                    BackboneLrFactor = weights is null ? 1 : r.GetValue(backboneLr) ?? 1,
                    FreezeBatchNorm = batchSize < 16,
                    AutoBatch = r.GetValue(batch) is null && isFolder,
                    MaxMemoryMib = r.GetValue(maxMemory),
                    Resize = r.GetValue(resize)!,
                    Epochs = epochCount, BatchSize = batchSize, Optimizer = opt,
                    LearningRate = r.GetValue(lr) ?? (weights is not null ? 0.02 : opt == "adamw" ? 0.002 : 0.1),
                    Momentum = r.GetValue(momentum),
                    WeightDecay = r.GetValue(wd) ?? (weights is not null ? 1e-4 : opt == "adamw" ? 0.05 : 5e-4),
                    WarmupEpochs = r.GetValue(warmup) ?? (weights is not null ? 0 : 0.5), LabelSmoothing = r.GetValue(smoothing), Loss = r.GetValue(loss)!.ToLowerInvariant(),
                    FocalGamma = r.GetValue(gamma),
                    Balance = r.GetValue(balance)!.ToLowerInvariant() switch
                    {
                        "none" => Balancing.None, "sampler" => Balancing.Sampler, "weights" => Balancing.Weights,
                        var b => throw new CliError($"--balance '{b}': expected none, sampler or weights", ExitCodes.Usage),
                    },
                    ClipGradNorm = r.GetValue(clip), Patience = r.GetValue(patience), ValFraction = r.GetValue(valFraction),
                    MaxImages = r.GetValue(maxImages),
                    Augmentation = AugmentationOptions.Preset(r.GetValue(augment) ?? (isFolder && weights is null ? "default" : "light")),
                    Seed = r.GetValue(seed), Threads = r.GetValue(threads), Workers = r.GetValue(workers), Device = r.GetValue(device)!,
                    MaxSteps = r.GetValue(maxSteps),
                };
                options.Validate();
                var run = new RunFolder(r.GetValue(outDir)!);
                // A folder counts as holding a run once it has a checkpoint: one that failed before its first can be reused.
                if (!r.GetValue(resume) && Directory.Exists(run.Last))
                    throw new CliError($"'{run.Root}' already holds a run: pass --resume to continue it, or choose another --out");
                progress.Message($"training {options.Arch.Describe()} on {options.Data} for {options.Epochs} epochs into {run.Root}");
                using var cancel = new CtrlC(progress, "stopping after this step (the last checkpoint is kept)");
                var trainer = new Trainer(options, run, progress, set);
                var result = trainer.Run(r.GetValue(resume), cancel.Token);
                var peak = Edge.Core.Diagnostics.ProcessMemory.PeakMib(); // training's, before the test evaluation
                var memory = trainer.Memory is { } plan ? new MemorySummary(plan.BatchSize, Math.Round(plan.EstimateMib), Math.Round(plan.LimitMib), Math.Round(peak)) : null;
                EvalReport? test = null;
                if (!r.GetValue(noEval))
                {
                    var evalData = testSet ?? (options.TestData is not null ? ImageSets.Open(options.TestData, "test") : null);
                    if (evalData is not null)
                    {
                        progress.Message($"evaluating the best checkpoint (epoch {result.Best.Epoch}) on {options.TestData}");
                        test = CheckpointEvaluator.Evaluate(run.Best is var b && Directory.Exists(b) ? b : run.Last, evalData,
                            [.. Enumerable.Range(0, evalData.Count)], options.Threads > 0 ? options.Threads : 1, 100);
                        ReportWriter.Write(run.Report, test, ReadHistory(run.Metrics), result.Best.BestEpoch);
                        progress.Message(string.Create(CultureInfo.InvariantCulture, $"test: top-1 {test.Top1:0.00}%, top-5 {test.Top5:0.00}% on {test.Images} images; report in {run.Report}"));
                    }
                }
                var summary = new TrainSummary(run.Root, result.Last.Epoch, result.Best.BestEpoch, result.Best.BestValAccuracy, result.StoppedEarly,
                    result.Epochs.Count > 0 ? result.Epochs.Average(e => e.ImagesPerSecond) : 0, result.DataWaitFraction,
                    result.TrainImages, result.ValImages, result.Skipped.Count, test, memory);
                if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(summary, CommandJson.Default.TrainSummary));
                var best = run.Best is var bestDir && Directory.Exists(bestDir) ? bestDir : run.Last;
                progress.Message(string.Create(CultureInfo.InvariantCulture,
                    $"done: best epoch {result.Best.BestEpoch} of {result.Last.Epoch}: validation {result.Best.BestValAccuracy:0.00}% ({result.ValImages} images){(test is null ? "" : $", test {test.Top1:0.00}% ({test.Images} images)")}{(result.StoppedEarly ? ", stopped early" : "")}"));
                if (memory is not null)
                    progress.Message(string.Create(CultureInfo.InvariantCulture, $"memory: peak {memory.PeakRssMib / 1024:0.00} GiB (estimated {memory.EstimateMib / 1024:0.00} GiB before the first step)"));
                progress.Message($"files: {best} (best checkpoint), {run.Metrics}, {run.TensorBoard}{(test is null ? "" : $", {run.Report}")}");
                progress.Message($"next: edge-prep export {run.Root} --out model.onnx && edge-prep quantize model.onnx model.int8.onnx --calibration {options.Data}");
                return 0;
            }
        }));
        return command;
    }

    /// <summary>
    /// The input size for an image folder: the median shorter side of up to 200 images (read from their
    /// headers), rounded to a multiple of 32, within 32..224 (64..224 from a pretrained start). Said.
    /// </summary>
    internal static int InputSizeFor(ImageSet set, bool pretrained, ITrainingProgress progress)
    {
        var sides = set.Sample(200, 0).Select(set.Size).OfType<(int Width, int Height)>().Select(s => Math.Min(s.Width, s.Height)).Order().ToList();
        if (sides.Count == 0) return pretrained ? 224 : 96;
        var median = sides[sides.Count / 2];
        var size = Math.Clamp((int)Math.Round(median / 32.0) * 32, pretrained ? 64 : 32, 224);
        progress.Message($"input size {size} (from the images: median shorter side {median} pixels over {sides.Count}; --input-size to choose)");
        return size;
    }

    /// <summary>
    /// A batch for a set of <paramref name="trainImages"/>: a power of two giving about 25 optimizer steps an
    /// epoch, between 8 and 64 (a small set needs many small steps, not three large ones). Said.
    /// </summary>
    internal static int BatchFor(int trainImages, ITrainingProgress progress)
    {
        var batch = 8;
        while (batch < 64 && batch * 2 * 25 <= trainImages) batch *= 2;
        progress.Message($"batch {batch} ({(trainImages + batch - 1) / batch} steps an epoch for {trainImages} training images; --batch-size to choose)");
        return batch;
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
        command.SetAction(r => Program.Errors.Run(() =>
        {
            {
                var (net, state) = Checkpoint.Load(r.GetValue(input)!);
                using var _ = net;
                var preprocessing = CheckpointEvaluator.Preprocessing(state);
                var model = ModelExporter.ToOnnx(net, new ExportInfo(state.Classes, preprocessing, state.Data, state.ValAccuracy));
                // Parity on real images: the run's own data, preprocessed by Edge.Core as the daemon will.
                var set = ImageSets.Open(state.Data, "test");
                if (r.GetValue(parityImages) < 1) throw new CliError($"--parity-images {r.GetValue(parityImages)}: expected at least 1", ExitCodes.Usage);
                var n = Math.Min(r.GetValue(parityImages), set.Count);
                var images = TensorImageSet.Build(set, preprocessing, subset: set.Sample(n, 7));
                var loader = new BatchLoader(images, [.. Enumerable.Range(0, images.Count)], images.Count, AugmentationOptions.None, state.Mean, state.Std, 0, shuffle: false);
                var inputs = loader.Epoch(0).First().Images.AsSpan(0, images.Count * images.ImageLength).ToArray();
                var parity = ModelExporter.CheckParity(net, model, inputs, images.Count);
                if (!parity.Passed)
                    throw new ExportException(string.Create(CultureInfo.InvariantCulture,
                        $"refusing to write '{r.GetValue(output)}': ONNX Runtime differs from TorchSharp by {parity.MaxAbsDiff:g3} on real images (random inputs: {parity.MaxScaledDiffRandom:g3}), over the {ParityResult.Tolerance:g} tolerance"));
                var path = r.GetValue(output)!;
                var dir = Path.GetDirectoryName(Path.GetFullPath(path));
                if (dir is not null) Directory.CreateDirectory(dir);
                var bytes = model.ToByteArray();
                AtomicFile.Write(path, bytes);
                var macs = ModelExporter.CountMacs(net);
                var summary = new ExportSummary(path, state.Arch.Describe(), macs, parity.MaxAbsDiff, parity.MaxScaledDiffRandom, parity.Images, bytes.Length);
                if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(summary, CommandJson.Default.ExportSummary));
                else Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"wrote {path} ({bytes.Length / 1024.0:0} KiB, {state.Arch.Describe()}, {macs / 1e6:0.##} M MACs); parity on {parity.Images} images: max |onnx - torch| {parity.MaxAbsDiff:g3}"));
                return 0;
            }
        }));
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
        command.SetAction(r => Program.Errors.Run(() =>
        {
            {
                var path = r.GetValue(input)!;
                var isOnnx = File.Exists(path);
                string? dataSpec = r.GetValue(data);
                IReadOnlyList<EpochMetrics>? history = null;
                int? bestEpoch = null;
                if (!isOnnx)
                {
                    var run = new RunFolder(path);
                    if (File.Exists(run.Metrics)) history = ReadHistory(run.Metrics);
                    var state = Checkpoint.ReadState(Checkpoint.Resolve(path));
                    bestEpoch = state.BestEpoch; // the trainer's own choice, not one worked out again from rounded figures
                    if (dataSpec is null)
                    {
                        dataSpec = state.Data.StartsWith("fashion-mnist", StringComparison.OrdinalIgnoreCase) ? "fashion-mnist:test" : state.Data;
                    }
                }
                if (dataSpec is null) throw new CliError("--data is required to evaluate an ONNX file", ExitCodes.Usage);
                var set = ImageSets.Open(dataSpec, "test");
                var indices = r.GetValue(max) is > 0 and var m && m < set.Count ? set.Sample(m, 0) : [.. Enumerable.Range(0, set.Count)];
                if (r.GetValue(threads) is < 1 or > ClassifierOptions.MaxThreads)
                    throw new CliError($"--threads {r.GetValue(threads)}: expected 1..{ClassifierOptions.MaxThreads}", ExitCodes.Usage);
                var progress = new ProgressLines("edge-prep");
                var report = isOnnx
                    ? OnnxEvaluator.Evaluate(path, set, indices, r.GetValue(threads), r.GetValue(latency), progress)
                    : CheckpointEvaluator.Evaluate(path, set, indices, r.GetValue(threads), r.GetValue(latency), progress);
                var folder = r.GetValue(outDir);
                if (folder is not null) ReportWriter.Write(folder, report, history, bestEpoch);
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
        }));
        return command;
    }
}
