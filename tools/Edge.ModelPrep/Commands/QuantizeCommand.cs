using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Cli;
using Edge.Core.Diagnostics;
using Edge.Core.Inference;
using Edge.Host.Datasets;
using Edge.Host.Quantization;
using Spectre.Console;

namespace Edge.ModelPrep.Commands;

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonNaming.Policy,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(QuantizationReport))]
internal sealed partial class ReportJson : JsonSerializerContext;

/// <summary><c>edge-prep quantize IN OUT --calibration DATA</c>: INT8 post-training quantization.</summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("model") { Description = "FP32 ONNX classifier" };
        var output = new Argument<string>("output") { Description = "Where to write the INT8 (QDQ) model" };
        var calibration = new Option<string>("--calibration", "-c") { Description = "Calibration images: a folder, an IDX file, or fashion-mnist", Required = true };
        var method = new Option<string>("--method") { Description = "minmax, percentile or entropy", DefaultValueFactory = _ => "minmax" };
        var percentile = new Option<double>("--percentile") { Description = "Percentile kept by --method percentile", DefaultValueFactory = _ => 99.999 };
        var samples = new Option<int>("--samples", "-n") { Description = "Calibration images to use (seeded sample)", DefaultValueFactory = _ => 512 };
        var activations = new Option<string>("--activations") { Description = "uint8 (U8S8, default: what ONNX Runtime runs on x86) or int8 (S8S8)", DefaultValueFactory = _ => "uint8" };
        var weightBits = new Option<int>("--weight-bits") { Description = "7 (default: exact on every CPU) or 8 (one more bit, exact only on ARM and x86 with VNNI; x86 without VNNI saturates)", DefaultValueFactory = _ => 7 };
        var exclude = new Option<string[]>("--exclude") { Description = "Node (or output tensor) to keep in FP32; repeatable", AllowMultipleArgumentsPerToken = true };
        var autoExclude = new Option<bool>("--auto-exclude") { Description = "Keep the most sensitive layers in FP32 until the loss is under --max-loss (needs --eval)" };
        var maxLoss = new Option<double>("--max-loss") { Description = "Accepted top-1 loss in points for --auto-exclude", DefaultValueFactory = _ => 0.3 };
        var eval = new Option<string?>("--eval") { Description = "Held-out images for agreement and accuracy: a folder of class folders, an IDX file, or fashion-mnist (its test split)" };
        var evalSamples = new Option<int>("--eval-samples") { Description = "Evaluation images to use (0 = all)", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "Threads for calibration and evaluation (0 = all cores)", DefaultValueFactory = _ => 0 };
        var noLatency = new Option<bool>("--no-latency") { Description = "Skip the FP32/INT8 latency measurement" };
        var optimized = new Option<string?>("--save-optimized") { Description = "Also write the graph ONNX Runtime actually runs (after fusion) to this file" };
        var json = new Option<bool>("--json") { Description = "Write the report as JSON to standard output" };
        var command = new Command("quantize", "Quantize an FP32 ONNX classifier to INT8 (QDQ, per-channel weights) and verify the result");
        command.Arguments.Add(input);
        command.Arguments.Add(output);
        foreach (var o in new Option[] { calibration, method, percentile, samples, activations, weightBits, exclude, autoExclude, maxLoss, eval, evalSamples, threads, noLatency, optimized, json })
            command.Options.Add(o);
        command.SetAction(r => Program.Errors.Run(() =>
        {
            {
                var m = r.GetValue(method)!.ToLowerInvariant() switch
                {
                    "minmax" or "min-max" => CalibrationMethod.MinMax,
                    "percentile" => CalibrationMethod.Percentile,
                    "entropy" or "kl" => CalibrationMethod.Entropy,
                    var other => throw new CliError($"--method '{other}': expected minmax, percentile or entropy", ExitCodes.Usage),
                };
                var a = r.GetValue(activations)!.ToLowerInvariant() switch
                {
                    "int8" or "s8" => ActivationType.Int8,
                    "uint8" or "u8" => ActivationType.UInt8,
                    var other => throw new CliError($"--activations '{other}': expected int8 or uint8", ExitCodes.Usage),
                };
                var p = r.GetValue(percentile);
                if (p is <= 50 or > 100) throw new CliError($"--percentile {p}: expected a value in (50, 100]", ExitCodes.Usage);
                if (r.GetValue(threads) is < 0 or > ClassifierOptions.MaxThreads)
                    throw new CliError($"--threads {r.GetValue(threads)}: expected 0 (all cores) .. {ClassifierOptions.MaxThreads}", ExitCodes.Usage);
                if (r.GetValue(weightBits) is not (7 or 8)) throw new CliError($"--weight-bits {r.GetValue(weightBits)}: expected 7 or 8", ExitCodes.Usage);
                if (r.GetValue(samples) < 1) throw new CliError($"--samples {r.GetValue(samples)}: expected at least 1", ExitCodes.Usage);
                if (r.GetValue(autoExclude) && r.GetValue(eval) is null)
                    throw new CliError("--auto-exclude needs an evaluation set (--eval) to measure the loss on", ExitCodes.Usage);
                var inputPath = r.GetValue(input)!;
                if (!File.Exists(inputPath)) throw new CliError($"model '{inputPath}' does not exist");
                // Checked before an hour of calibration, not when the model is written.
                foreach (var written in new[] { r.GetValue(output)!, r.GetValue(optimized) })
                {
                    if (written is null) continue;
                    if (Path.GetFullPath(written) == Path.GetFullPath(inputPath))
                        throw new CliError($"'{written}' is the model being quantized: write the INT8 model to another file (the FP32 one is needed to verify it)", ExitCodes.Usage);
                    var folder = Path.GetDirectoryName(Path.GetFullPath(written))!;
                    if (!Directory.Exists(folder)) throw new CliError($"cannot write '{written}': the folder '{folder}' does not exist");
                }
                var request = new QuantizeRequest
                {
                    InputPath = inputPath,
                    OutputPath = r.GetValue(output)!,
                    Calibration = ImageSets.Open(r.GetValue(calibration)!, "train"),
                    Samples = r.GetValue(samples),
                    Method = m,
                    Percentile = p,
                    Activations = a,
                    WeightBits = r.GetValue(weightBits),
                    Exclude = new HashSet<string>(r.GetValue(exclude) ?? []),
                    AutoExclude = r.GetValue(autoExclude),
                    MaxLoss = r.GetValue(maxLoss),
                    Evaluation = r.GetValue(eval) is { } e ? ImageSets.Open(e, "test") : null,
                    EvaluationSamples = r.GetValue(evalSamples),
                    Threads = r.GetValue(threads),
                    MeasureLatency = !r.GetValue(noLatency),
                    OptimizedModelPath = r.GetValue(optimized),
                };
                return Run(request, r.GetValue(json));
            }
        }));
        return command;
    }

    private static int Run(QuantizeRequest request, bool json)
    {
        QuantizationReport report;
        if (json || Console.IsErrorRedirected)
        {
            // Logs and pipes get the lines both tools write; standard output stays for --json.
            report = Int8Quantizer.Quantize(request, new ProgressLines("edge-prep"));
        }
        else
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            report = null!;
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var tasks = new Dictionary<string, ProgressTask>();
                    var progress = new SynchronousProgress<StepProgress>(s =>
                    {
                        if (!tasks.TryGetValue(s.Step, out var t))
                        {
                            foreach (var other in tasks.Values) if (!other.IsFinished) other.Value = other.MaxValue;
                            tasks[s.Step] = t = ctx.AddTask(Markup.Escape(s.Step), maxValue: Math.Max(1, s.Total));
                        }
                        t.Value = s.Done;
                    });
                    report = Int8Quantizer.Quantize(request, progress);
                    foreach (var t in tasks.Values) t.Value = t.MaxValue;
                });
        }
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(report, ReportJson.Default.QuantizationReport));
            return 0;
        }
        Print(report);
        return 0;
    }

    private static void Print(QuantizationReport r)
    {
        var inv = CultureInfo.InvariantCulture;
        var summary = new Table().Border(TableBorder.Simple).AddColumn("").AddColumn("");
        void Row(string k, string v) => summary.AddRow(Markup.Escape(k), Markup.Escape(v));
        Row("model", $"{r.Input} ({r.InputBytes / 1024.0:0.#} KiB) -> {r.Output} ({r.OutputBytes / 1024.0:0.#} KiB)");
        Row("prepared", $"{r.Preparation.BatchNormsFolded} BatchNorm folded, {r.Preparation.IdentitiesRemoved} Identity/Dropout removed, " +
            $"{r.Preparation.ConstantsToInitializers} Constant nodes and {r.Preparation.NodesFolded} constant ops folded");
        Row("calibration", $"{r.CalibrationImages} images, {r.Method}, activations {r.ActivationType}" +
            (r.CalibrationSkipped > 0 ? $", {r.CalibrationSkipped} skipped (first: {r.SkipReasons.FirstOrDefault()})" : ""));
        Row("quantized", $"{r.Weights.Count} weight tensors per-channel ({r.WeightBits} bits), {r.Activations.Count} activations, {r.FusedActivations.Count} ReLU/Clip absorbed");
        if (r.KeptFloat.Count > 0) Row("kept FP32", string.Join("; ", r.KeptFloat));
        if (r.AutoExcluded.Count > 0) Row("auto-excluded", string.Join("; ", r.AutoExcluded));
        Row("ONNX Runtime", $"{r.Fusion.IntegerKernels} integer kernels; " +
            (r.Fusion.FloatComputeNodes.Count == 0 ? "every Conv/Gemm/MatMul fused" : $"NOT fused: {string.Join(", ", r.Fusion.FloatComputeNodes)}"));
        if (r.Evaluation is { } e)
            Row("evaluation", $"{e.Images} images: top-1 agreement {e.Top1Agreement:0.00}%" +
                (e.Fp32Accuracy is { } fa && e.Int8Accuracy is { } ia ? $", accuracy FP32 {fa:0.00}% INT8 {ia:0.00}% (loss {fa - ia:0.00} points)" : ""));
        if (r.Fp32LatencyMs is { } f && r.Int8LatencyMs is { } i)
            Row("latency", $"FP32 {f.ToString("0.000", inv)} ms, INT8 {i.ToString("0.000", inv)} ms (1 thread, batch 1, median): ratio {(i / f).ToString("0.00", inv)}");
        Row("peak memory", $"{r.PeakRssMib:0} MiB RSS");
        AnsiConsole.Write(summary);

        var layers = new Table().Border(TableBorder.Simple).Title("largest quantization error (FP32 vs INT8 on calibration images)")
            .AddColumn("tensor").AddColumn("produced by").AddColumn(new TableColumn("SQNR dB").RightAligned()).AddColumn(new TableColumn("rel. RMSE").RightAligned());
        foreach (var l in r.LayerErrors.Take(10))
            layers.AddRow(Markup.Escape(l.Tensor), Markup.Escape($"{l.Producer} ({l.OpType})"), l.SqnrDb.ToString("0.0", inv), l.RelativeRmse.ToString("0.0000", inv));
        AnsiConsole.Write(layers);
    }
}
