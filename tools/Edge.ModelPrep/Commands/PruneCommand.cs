using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Cli;
using Edge.ModelPrep.Pruning;

namespace Edge.ModelPrep.Commands;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonNaming.Policy, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PruneSummary))]
[JsonSerializable(typeof(PruneRunOptions))]
[JsonSerializable(typeof(LatencySearch))]
[JsonSerializable(typeof(BlockLatencySearch))]
internal sealed partial class PruneJson : JsonSerializerContext;

/// <summary><c>edge-prep prune RUN --target-macs 50% --out R</c>: structured pruning with fine-tuning.</summary>
internal static class PruneCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("checkpoint") { Description = "A trained run folder (its best checkpoint) or a checkpoint folder" };
        var output = new Option<string>("--out", "-o") { Description = "Run folder for the pruned network (checkpoints, pruning.json, report)", Required = true };
        var target = new Option<string?>("--target-macs") { Description = "MAC budget: a share of the network's (50%, 0.5) or a count (10M, 2500000)" };
        var targetLatency = new Option<string?>("--target-latency") { Description = "Or a latency budget, measured in ONNX Runtime (FP32, batch 1): milliseconds (0.2ms) or a share of the unpruned network's (60%)" };
        var latencyThreads = new Option<int>("--latency-threads") { Description = "ONNX Runtime threads --target-latency and --drop-by latency measure with", DefaultValueFactory = _ => 1 };
        var criterion = new Option<string>("--criterion") { Description = "Channel importance: l1 or l2 (norms of every weight writing or reading the channel) or bn (BatchNorm scale)", DefaultValueFactory = _ => "l2" };
        var scope = new Option<string>("--scope") { Description = "global (channels compete across layers) or layer (every group loses the same share)", DefaultValueFactory = _ => "global" };
        var minChannels = new Option<int>("--min-channels") { Description = "Fewest channels a group keeps", DefaultValueFactory = _ => 8 };
        var minKeep = new Option<double>("--min-keep") { Description = "Smallest share of its width a group keeps (0..1)", DefaultValueFactory = _ => 0.1 };
        var roundTo = new Option<int>("--round-to") { Description = "Round kept channels up to a multiple of this (8 suits integer kernels; 1 = off)", DefaultValueFactory = _ => 8 };
        var dropBlocks = new Option<int>("--drop-blocks") { Description = "Drop this many residual blocks whole (those whose branch adds least; ResNet, MobileNetV2) before pruning channels: fewer layers, which small INT8 models need to run faster", DefaultValueFactory = _ => 0 };
        var dropBy = new Option<string>("--drop-by") { Description = "Which blocks --drop-blocks drops: strength (the weakest branches; reproducible) or latency (least strength per millisecond each block costs in the INT8 model, timed here: drops the blocks that cost most, such as those at high resolution)", DefaultValueFactory = _ => "strength" };
        var steps = new Option<int>("--steps") { Description = "Prune → fine-tune steps to reach the target (budgets shrink geometrically)", DefaultValueFactory = _ => 1 };
        var epochs = new Option<int>("--epochs", "-e") { Description = "Fine-tuning epochs after each step (0 = prune only)", DefaultValueFactory = _ => 5 };
        var lr = new Option<double?>("--lr") { Description = "Fine-tuning learning rate (default: a tenth of the source run's)" };
        var teacher = new Option<string?>("--teacher") { Description = "Distil while fine-tuning from this teacher (a run, checkpoint or ONNX classifier), or 'source' for the unpruned network" };
        var data = new Option<string?>("--data", "-d") { Description = "Training data for fine-tuning (default: the source run's)" };
        var batch = new Option<int?>("--batch-size", "-b") { Description = "Fine-tuning batch size (default: the source run's)" };
        var threads = new Option<int>("--threads") { Description = "libtorch threads (0 = libtorch's default)", DefaultValueFactory = _ => 0 };
        var maxImages = new Option<int>("--max-images") { Description = "Fine-tune on a seeded subset (0 = the source run's choice)", DefaultValueFactory = _ => 0 };
        var maxSteps = new Option<int>("--max-steps") { Description = "Stop each fine-tuning after this many steps (0 = no limit)", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "Continue the pruning run in --out where it stopped" };
        var noEval = new Option<bool>("--no-eval") { Description = "Skip the test-set evaluation of the unpruned and pruned networks" };
        var json = new Option<bool>("--json") { Description = "Write the summary (pruning.json) to standard output" };
        var command = new Command("prune", "Structured pruning: remove whole channels (by dependency group) to a MAC budget, then fine-tune; the result is a smaller network, not a masked one");
        command.Arguments.Add(input);
        foreach (var o in new Option[] { output, target, targetLatency, latencyThreads, criterion, scope, minChannels, minKeep, roundTo, dropBlocks, dropBy, steps, epochs, lr, teacher, data, batch, threads, maxImages, maxSteps, resume, noEval, json })
            command.Options.Add(o);
        command.SetAction(r => Program.Errors.Run(() =>
        {
            var (macs, latency) = (r.GetValue(target), r.GetValue(targetLatency));
            if ((macs is null) == (latency is null))
                throw new CliError("give one target: --target-macs (50%, 10M) or --target-latency (0.2ms, 60%)", ExitCodes.Usage);
            var (latencyMs, latencyShare) = latency is null ? (null, null) : ParseLatency(latency);
            var options = new PruneRunOptions
            {
                Source = r.GetValue(input)!, Out = r.GetValue(output)!, TargetMacs = macs is null ? 0 : ParseBudget(macs),
                TargetLatencyMs = latencyMs, TargetLatencyShare = latencyShare, LatencyThreads = r.GetValue(latencyThreads),
                Criterion = r.GetValue(criterion)!.ToLowerInvariant() switch
                {
                    "l1" => PruneCriterion.L1, "l2" => PruneCriterion.L2, "bn" => PruneCriterion.BatchNorm,
                    var c => throw new CliError($"--criterion '{c}': expected l1, l2 or bn", ExitCodes.Usage),
                },
                Scope = r.GetValue(scope)!.ToLowerInvariant() switch
                {
                    "global" => PruneScope.Global, "layer" => PruneScope.Layer,
                    var s => throw new CliError($"--scope '{s}': expected global or layer", ExitCodes.Usage),
                },
                MinChannels = r.GetValue(minChannels), MinKeep = r.GetValue(minKeep), RoundTo = r.GetValue(roundTo), DropBlocks = r.GetValue(dropBlocks) is var d and not 0 ? d : null,
                DropBy = r.GetValue(dropBy)!.ToLowerInvariant() switch
                {
                    "strength" => null, "latency" => "latency",
                    var b => throw new CliError($"--drop-by '{b}': expected strength or latency", ExitCodes.Usage),
                },
                Steps = r.GetValue(steps), Epochs = r.GetValue(epochs), LearningRate = r.GetValue(lr), Teacher = r.GetValue(teacher),
                Data = r.GetValue(data), BatchSize = r.GetValue(batch), Threads = r.GetValue(threads), MaxImages = r.GetValue(maxImages),
                MaxSteps = r.GetValue(maxSteps), Resume = r.GetValue(resume), Evaluate = !r.GetValue(noEval),
            };
            if (options.Teacher is { } t && t != "source" && !File.Exists(t) && !Directory.Exists(t))
                throw new CliError($"--teacher '{t}': no such file or folder (or 'source' for the unpruned network)", ExitCodes.Usage);
            using var progress = new ConsoleProgress(quiet: false);
            using var cancel = new CtrlC(progress, "stopping after this step (what is done is kept; --resume continues)");
            var summary = new PruneRun(options, progress).Run(cancel.Token);
            if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(summary, PruneJson.Default.PruneSummary));
            Print(summary, progress, r.GetValue(json) ? Console.Error : Console.Out); // standard output holds only the JSON when asked
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>"50%" and "0.5" are shares; "10M", "2.5k" and "2500000" are MAC counts.</summary>
    internal static double ParseBudget(string text)
    {
        var t = text.Trim();
        double Number(string s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) && v > 0
            ? v : throw new CliError($"--target-macs '{text}': expected a share such as 50% or 0.5, or a count such as 10M", ExitCodes.Usage);
        if (t.EndsWith('%'))
        {
            var p = Number(t[..^1]);
            return p < 100 ? p / 100 : throw new CliError($"--target-macs '{text}': a share must be below 100%", ExitCodes.Usage);
        }
        var scale = char.ToUpperInvariant(t.Length > 0 ? t[^1] : ' ') switch { 'K' => 1e3, 'M' => 1e6, 'G' => 1e9, _ => 1 };
        var n = Number(scale == 1 ? t : t[..^1]) * scale;
        if (scale == 1 && n is >= 1 and < 2) throw new CliError($"--target-macs '{text}': a share must be below 1", ExitCodes.Usage);
        return n;
    }

    /// <summary>"0.2ms" and "0.2" are milliseconds; "60%" is a share of the unpruned network's latency.</summary>
    internal static (double? Ms, double? Share) ParseLatency(string text)
    {
        var t = text.Trim();
        var share = t.EndsWith('%');
        var number = share ? t[..^1] : t.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? t[..^2] : t;
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v) || v <= 0 || (share && v >= 100))
            throw new CliError($"--target-latency '{text}': expected milliseconds such as 0.2ms, or a share of the unpruned network's latency below 100% such as 60%", ExitCodes.Usage);
        return share ? (null, v / 100) : (v, null);
    }

    private static void Print(PruneSummary s, ConsoleProgress progress, TextWriter tables)
    {
        var inv = CultureInfo.InvariantCulture;
        foreach (var step in s.Steps)
        {
            var table = new TextTable("group", "full", "before", "after").AlignRight(1, 2, 3);
            foreach (var g in step.Groups) table.Add(g.Group, g.Full.ToString(inv), g.Before.ToString(inv), g.After == g.Before ? g.After.ToString(inv) : g.After == 0 ? "0 (block dropped)" : $"{g.After} (-{g.Before - g.After})");
            tables.WriteLine($"step {step.Step}: channels per group");
            tables.WriteLine(table.ToString().TrimEnd('\n'));
            progress.Message(string.Create(inv, $"step {step.Step}: {step.MacsBefore / 1e6:0.##} → {step.MacsAfter / 1e6:0.##} M MACs (budget {step.TargetMacs / 1e6:0.##} M), {step.ParametersBefore / 1e3:0.#} → {step.ParametersAfter / 1e3:0.#} k parameters{(step.ValAccuracy is { } v ? $", validation {v:0.00}% after {step.FineTuneEpochs} epoch(s)" : "")}"));
        }
        string Figures(NetworkFigures f) => string.Join(", ", new[]
        {
            string.Create(inv, $"{f.Macs / 1e6:0.##} M MACs"),
            f.TestTop1 is { } a ? string.Create(inv, $"test {a:0.00}%") : null,
            f.LatencyP50Ms is { } l ? string.Create(inv, $"{l:0.###} ms (FP32, {f.LatencyThreads} thread)") : null,
        }.OfType<string>());
        if (s.Latency is { } l)
            progress.Message(string.Create(inv, $"latency target {l.TargetMs:0.###} ms ({l.Threads} thread(s)): unpruned {l.SourceMs:0.###} ms, budget chosen {l.ChosenMacs / 1e6:0.###} M MACs measured at {l.ChosenMs:0.###} ms ({l.Probes.Count} candidates timed)"));
        progress.Message(string.Create(inv, $"done: {Figures(s.Before)} → {Figures(s.After)} ({100.0 * s.After.Macs / s.Before.Macs:0.#}% of the MACs)"));
        progress.Message($"files: {Path.Combine(s.Run, PruneRun.ReportFile)}, {s.After.Checkpoint} (pruned checkpoint)");
        progress.Message($"next: edge-prep export {s.After.Checkpoint} --out pruned.onnx && edge-prep quantize pruned.onnx pruned.int8.onnx --calibration DATA");
    }
}
