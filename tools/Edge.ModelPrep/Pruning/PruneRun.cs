using System.Globalization;
using System.Text.Json;
using Edge.Cli;
using Edge.Host.Datasets;
using Edge.ModelPrep.Commands;
using Edge.ModelPrep.Data;
using Edge.ModelPrep.Evaluation;
using Edge.ModelPrep.Export;
using Edge.ModelPrep.Models;
using Edge.ModelPrep.Training;
using Edge.Onnx.IO;

namespace Edge.ModelPrep.Pruning;

/// <summary>Everything a pruning run was given.</summary>
public sealed record PruneRunOptions
{
    public required string Source { get; init; }
    public required string Out { get; init; }
    /// <summary>The budget: a share of the source's MACs (0..1) or, when above 1, a MAC count; 0 when the target is a latency.</summary>
    public double TargetMacs { get; init; }
    /// <summary>The target as a measured latency in milliseconds (FP32 ONNX Runtime, batch 1, <see cref="LatencyThreads"/>).</summary>
    public double? TargetLatencyMs { get; init; }
    /// <summary>The target as a share (0..1) of the unpruned network's measured latency.</summary>
    public double? TargetLatencyShare { get; init; }
    /// <summary>ONNX Runtime threads the latency target is measured with (1: a small device's core).</summary>
    public int LatencyThreads { get; init; } = 1;
    public PruneCriterion Criterion { get; init; } = PruneCriterion.L2;
    public PruneScope Scope { get; init; } = PruneScope.Global;
    public int MinChannels { get; init; } = 8;
    public double MinKeep { get; init; } = 0.1;
    public int RoundTo { get; init; } = 8;
    /// <summary>
    /// Residual branches dropped whole before channels are pruned (<see cref="PruneSettings.DropBlocks"/>); null = none.
    /// Nullable and left out of the saved settings when null, so that runs saved before the option resume.
    /// </summary>
    public int? DropBlocks { get; init; }
    /// <summary>
    /// How the blocks to drop are chosen: null = by branch strength alone; "latency" = by strength per millisecond of
    /// INT8 time the block costs here (<see cref="BlockLatency"/>). Null rather than "strength", so that saved settings
    /// from before the option still match.
    /// </summary>
    public string? DropBy { get; init; }
    public int Steps { get; init; } = 1;
    /// <summary>Fine-tuning epochs after each step (0 = prune only).</summary>
    public int Epochs { get; init; } = 5;
    public double? LearningRate { get; init; }
    /// <summary>Distill from this teacher while fine-tuning: a run, a checkpoint or an ONNX classifier; "source" = the unpruned network.</summary>
    public string? Teacher { get; init; }
    public string? Data { get; init; }
    public int? BatchSize { get; init; }
    public int Threads { get; init; }
    public int MaxImages { get; init; }
    public int MaxSteps { get; init; }
    public bool Resume { get; init; }
    public bool Evaluate { get; init; } = true;

    public void Validate()
    {
        var targets = (TargetMacs != 0 ? 1 : 0) + (TargetLatencyMs is null ? 0 : 1) + (TargetLatencyShare is null ? 0 : 1);
        if (targets != 1) throw new CliError("give one target: --target-macs (50%, 10M) or --target-latency (0.2ms, 60%)", ExitCodes.Usage);
        if (TargetMacs != 0 && (!double.IsFinite(TargetMacs) || TargetMacs <= 0)) throw new CliError($"--target-macs {TargetMacs}: expected a share such as 50% or a count such as 10M", ExitCodes.Usage);
        if (TargetLatencyMs is { } ms && (!double.IsFinite(ms) || ms <= 0)) throw new CliError($"--target-latency {ms}: expected milliseconds above 0", ExitCodes.Usage);
        if (TargetLatencyShare is { } share && (!double.IsFinite(share) || share is <= 0 or >= 1)) throw new CliError($"--target-latency {share * 100}%: expected a share between 0% and 100%", ExitCodes.Usage);
        if (LatencyThreads is < 1 or > 64) throw new CliError($"--latency-threads {LatencyThreads}: expected 1..64", ExitCodes.Usage);
        if (MinChannels < 1) throw new CliError($"--min-channels {MinChannels}: expected at least 1", ExitCodes.Usage);
        if (!double.IsFinite(MinKeep) || MinKeep is < 0 or > 1) throw new CliError($"--min-keep {MinKeep}: expected 0..1", ExitCodes.Usage);
        if (RoundTo is < 1 or > 64) throw new CliError($"--round-to {RoundTo}: expected 1..64", ExitCodes.Usage);
        if (DropBlocks is < 0 or > 64) throw new CliError($"--drop-blocks {DropBlocks}: expected 0..64", ExitCodes.Usage);
        if (DropBy is not (null or "latency")) throw new CliError($"--drop-by '{DropBy}': expected strength or latency", ExitCodes.Usage);
        if (DropBy is not null && DropBlocks is null or 0) throw new CliError($"--drop-by {DropBy}: give --drop-blocks N, the number of blocks to drop", ExitCodes.Usage);
        if (Steps is < 1 or > 20) throw new CliError($"--steps {Steps}: expected 1..20", ExitCodes.Usage);
        if (Epochs is < 0 or > 1000) throw new CliError($"--epochs {Epochs}: expected 0..1000", ExitCodes.Usage);
        if (LearningRate is { } lr && (!double.IsFinite(lr) || lr <= 0)) throw new CliError($"--lr {lr}: expected > 0", ExitCodes.Usage);
    }
}

/// <summary>
/// Iterative structured pruning: each step prunes to the next MAC budget (the budgets shrink geometrically to the
/// target), saves the pruned checkpoint (<c>pruned/</c>) and fine-tunes it as a run of its own, optionally
/// distilling from a teacher. The last step's run is <see cref="PruneRunOptions.Out"/> itself, earlier ones
/// <c>step-N/</c> inside it; each stage is kept, so a stopped run resumes where it was.
/// </summary>
public sealed class PruneRun(PruneRunOptions options, ITrainingProgress progress)
{
    public const string ReportFile = "pruning.json", SettingsFile = "prune-settings.json", LatencyFile = "latency-search.json", BlocksFile = "block-latency.json";
    /// <summary>Timed runs per latency measurement (the median is used).</summary>
    public const int LatencyRuns = 200;

    public static string StepFolder(string root, int step, int steps) => step == steps ? root : Path.Combine(root, $"step-{step}");

    public PruneSummary Run(CancellationToken cancel = default)
    {
        options.Validate();
        var sourceFolder = Checkpoint.Resolve(options.Source);
        var (source, sourceState) = Checkpoint.Load(sourceFolder);
        using var _ = source;
        var sourceConfig = FineTuning.ReadConfig(sourceFolder);
        if (source.Groups.Count == 0) throw new CliError($"{sourceState.Arch.Describe()} has no channel groups to prune");
        var sourceMacs = ModelExporter.CountMacs(source);
        var report = Path.Combine(options.Out, ReportFile);
        // What the stages in --out were made from: a resumed run continues only with the same source and settings.
        var settingsFile = Path.Combine(options.Out, SettingsFile);
        var identity = JsonSerializer.Serialize(options with { Source = Path.GetFullPath(sourceFolder), Out = "", Resume = false, Evaluate = true, Threads = 0, MaxSteps = 0 },
            PruneJson.Default.PruneRunOptions);
        var holdsSomething = File.Exists(settingsFile) || File.Exists(report) || Directory.Exists(new RunFolder(options.Out).Last);
        if (!options.Resume && holdsSomething)
            throw new CliError($"'{options.Out}' already holds a run: pass --resume to continue a pruning run, or choose another --out");
        if (options.Resume && holdsSomething && !File.Exists(settingsFile))
            throw new CliError($"'{options.Out}' holds a run that is not a pruning run ({SettingsFile} missing): choose another --out");
        if (options.Resume && File.Exists(settingsFile) && File.ReadAllText(settingsFile) != identity)
            throw new CliError($"'{options.Out}' holds a pruning run of another source or with other settings ({settingsFile}): rerun with those, or choose another --out");

        var settings = new PruneSettings
        {
            TargetMacs = sourceMacs, Criterion = options.Criterion, Scope = options.Scope,
            MinChannels = options.MinChannels, MinKeep = options.MinKeep, RoundTo = options.RoundTo, DropBlocks = options.DropBlocks ?? 0,
        };
        // Checked before any work (block and latency searches time the network first): too many blocks, or an architecture
        // without them, and a MAC target the network is under already.
        PrunePlanner.DroppedGroups(source, settings);
        var macsTarget = options.TargetMacs <= 1 ? (long)(options.TargetMacs * sourceMacs) : (long)options.TargetMacs;
        if (options.TargetMacs != 0 && macsTarget >= sourceMacs) throw new CliError(string.Create(CultureInfo.InvariantCulture,
            $"--target-macs {macsTarget / 1e6:0.###} M: the network has {sourceMacs / 1e6:0.###} M MACs already"), ExitCodes.Usage);
        var blocksFile = Path.Combine(options.Out, BlocksFile);
        BlockLatencySearch? blocks = null;
        if (options.DropBy == "latency")
        {
            if (options.Resume && File.Exists(settingsFile))
            {
                // Measured once: a resumed run drops the blocks its first measurement chose (a second could choose others).
                if (!File.Exists(blocksFile))
                    throw new CliError($"'{options.Out}' was pruned by block latency, but {BlocksFile} is gone: the blocks it dropped cannot be chosen again; choose another --out");
                blocks = ReadBlockLatency(blocksFile, source, options.LatencyThreads);
                progress.Message($"block latencies from {blocksFile}");
            }
            else blocks = BlockLatency.Measure(source, new ExportInfo(sourceState.Classes, CheckpointEvaluator.Preprocessing(sourceState), sourceState.Data, null), options.LatencyThreads, progress);
            settings = settings with { BlockCostMs = blocks.Blocks.ToDictionary(b => b.Group, b => b.CostMs) };
        }
        var latencyFile = Path.Combine(options.Out, LatencyFile);
        LatencySearch? latency = null;
        long target;
        if (options.TargetMacs != 0) target = macsTarget;
        else if (options.Resume && File.Exists(latencyFile) && File.Exists(settingsFile))
        {
            // Measured once: a resumed run prunes to the budget its first measurement chose.
            latency = ReadLatencySearch(latencyFile, sourceMacs);
            target = latency.ChosenMacs;
            progress.Message(string.Create(CultureInfo.InvariantCulture, $"latency target: budget {target / 1e6:0.###} M MACs from {latencyFile}"));
        }
        else
        {
            latency = LatencyBudget.Find(source, sourceState, ChannelImportance.Score(source, options.Criterion), settings,
                options.TargetLatencyShare ?? options.TargetLatencyMs!.Value, options.TargetLatencyShare is not null, options.LatencyThreads, LatencyRuns, progress);
            target = latency.ChosenMacs;
        }
        settings = settings with { TargetMacs = target };
        PrunePlanner.CheckReachable(source, settings);
        Directory.CreateDirectory(options.Out);
        // The measurements before the settings: a run whose settings are saved has what it was pruned by.
        if (blocks is not null) AtomicFile.WriteText(blocksFile, JsonSerializer.Serialize(blocks, PruneJson.Default.BlockLatencySearch));
        if (latency is not null) AtomicFile.WriteText(latencyFile, JsonSerializer.Serialize(latency, PruneJson.Default.LatencySearch));
        AtomicFile.WriteText(settingsFile, identity);
        var teacher = options.Teacher == "source" ? sourceFolder : options.Teacher;
        var data = options.Data ?? sourceConfig?.Data ?? sourceState.Data;

        var steps = new List<PruneStep>();
        var current = sourceFolder;
        for (var step = 1; step <= options.Steps && !cancel.IsCancellationRequested; step++)
        {
            var folder = StepFolder(options.Out, step, options.Steps);
            var pruned = Path.Combine(folder, "pruned");
            var budget = (long)(sourceMacs * Math.Pow((double)target / sourceMacs, (double)step / options.Steps));
            var (net, state) = Checkpoint.Load(current);
            using var __ = net;
            var macsBefore = ModelExporter.CountMacs(net);
            ClassifierNet smaller;
            if (File.Exists(Path.Combine(pruned, Checkpoint.StateFile)))
            {
                smaller = Checkpoint.Load(pruned).Net;
                if (smaller.Spec with { Plan = null } != net.Spec with { Plan = null } || smaller.Groups.Count != net.Groups.Count)
                {
                    var found = smaller.Spec.Describe();
                    smaller.Dispose();
                    throw new CheckpointException($"'{pruned}' holds a {found}, not a pruned {net.Spec.Describe()}: choose another --out");
                }
                progress.Message($"step {step}: pruned network found in {pruned}");
            }
            else
            {
                progress.Message(string.Create(CultureInfo.InvariantCulture,
                    $"step {step}/{options.Steps}: pruning {state.Arch.Describe()} from {macsBefore / 1e6:0.##} M to at most {budget / 1e6:0.##} M MACs ({Name(options.Criterion)}, {options.Scope.ToString().ToLowerInvariant()})"));
                var scores = ChannelImportance.Score(net, options.Criterion);
                var plan = PrunePlanner.Plan(net, scores, settings with { TargetMacs = budget });
                smaller = ChannelPruner.Prune(net, plan.Keep);
                Checkpoint.Save(pruned, smaller, null, state with { Arch = smaller.Spec, Epoch = 0, Step = 0, ValAccuracy = null, BestValAccuracy = 0, BestEpoch = 0, EpochsWithoutImprovement = 0 });
            }
            using var ___ = smaller;
            var groups = net.Groups.Select((g, i) => new GroupChannels(g.Name, g.Full, g.Count, smaller.Groups[i].Count)).ToList();
            var macsAfter = ModelExporter.CountMacs(smaller);
            string? tuned = null;
            double? val = null;
            if (options.Epochs > 0)
            {
                var run = new RunFolder(folder);
                var done = File.Exists(Path.Combine(run.Last, Checkpoint.StateFile)) ? Checkpoint.ReadState(run.Last) : null;
                if (done is not null && done.Arch != smaller.Spec)
                    throw new CheckpointException($"'{run.Last}' holds a {done.Arch.Describe()}, not the pruned network of step {step}: choose another --out");
                // Complete: all epochs, or the step limit asked for (which stops part-way through an epoch).
                bool Complete(CheckpointState s) => s.Epoch >= options.Epochs || (options.MaxSteps > 0 && s.Step >= options.MaxSteps);
                if (done is null || !Complete(done))
                {
                    var train = FineTuning.Options(sourceConfig, sourceState, smaller.Spec, data, pruned) with
                    {
                        Teacher = teacher, Epochs = options.Epochs, LearningRate = options.LearningRate ?? FineTuning.LearningRate(sourceConfig),
                        BatchSize = options.BatchSize ?? sourceConfig?.BatchSize ?? 128, Threads = options.Threads,
                        MaxImages = options.MaxImages > 0 ? options.MaxImages : sourceConfig?.MaxImages ?? 0, MaxSteps = options.MaxSteps,
                    };
                    progress.Message($"step {step}: fine-tuning for {options.Epochs} epoch(s){(teacher is null ? "" : $", distilling from {teacher}")}");
                    var result = new Trainer(train, run, progress).Run(resume: done is not null, cancel);
                    done = result.Last;
                    if (!Complete(done)) break; // cancelled: the checkpoint is kept for --resume
                }
                tuned = Directory.Exists(run.Best) ? run.Best : run.Last;
                val = Checkpoint.ReadState(tuned).BestValAccuracy;
            }
            steps.Add(new PruneStep(step, budget, macsBefore, macsAfter, Parameters(net), Parameters(smaller), groups, pruned, tuned, options.Epochs, val));
            current = tuned ?? pruned;
        }
        if (steps.Count < options.Steps) throw new CliError($"stopped: '{options.Out}' keeps what was done; rerun with --resume to continue", ExitCodes.Cancelled);

        var before = new NetworkFigures(sourceFolder, sourceMacs, Parameters(source));
        NetworkFigures after;
        using (var final = Checkpoint.Load(current).Net) after = new NetworkFigures(current, ModelExporter.CountMacs(final), Parameters(final));
        var testData = sourceConfig?.TestData;
        if (options.Evaluate && testData is not null)
        {
            var set = ImageSets.Open(testData, "test");
            var all = Enumerable.Range(0, set.Count).ToArray();
            var threads = 1; // latency as on a small device: one thread
            progress.Message($"evaluating the unpruned and the pruned network on {testData} ({set.Count} images)");
            var b = CheckpointEvaluator.Evaluate(sourceFolder, set, all, threads, 200);
            var a = CheckpointEvaluator.Evaluate(current, set, all, threads, 200);
            ReportWriter.Write(Path.Combine(options.Out, "report"), a, TrainCommands.ReadHistory(new RunFolder(options.Out).Metrics), Checkpoint.ReadState(current).BestEpoch);
            before = before with { TestTop1 = b.Top1, LatencyP50Ms = b.Latency?.P50Ms, LatencyThreads = b.Latency?.Threads };
            after = after with { TestTop1 = a.Top1, LatencyP50Ms = a.Latency?.P50Ms, LatencyThreads = a.Latency?.Threads };
        }
        var summary = new PruneSummary(options.Out, sourceFolder, Name(options.Criterion), options.Scope.ToString().ToLowerInvariant(), teacher, steps, before, after, testData, latency, blocks);
        AtomicFile.WriteText(report, JsonSerializer.Serialize(summary, PruneJson.Default.PruneSummary));
        return summary;
    }

    /// <summary>A saved latency search, bounded and checked: it decides the budget a resumed run prunes to.</summary>
    private static LatencySearch ReadLatencySearch(string path, long sourceMacs)
    {
        LatencySearch? search;
        try { search = JsonSerializer.Deserialize(BoundedFile.ReadAll(path, 1 << 20), PruneJson.Default.LatencySearch); }
        catch (JsonException) { search = null; }
        if (search is null || search.ChosenMacs <= 0 || search.ChosenMacs >= sourceMacs)
            throw new CheckpointException($"'{path}' is not a latency search of this network: delete it to measure again, or choose another --out");
        return search;
    }

    /// <summary>Saved block latencies, bounded and checked against the network: they decide which blocks a resumed run drops.</summary>
    private static BlockLatencySearch ReadBlockLatency(string path, ClassifierNet net, int threads)
    {
        BlockLatencySearch? search;
        try { search = JsonSerializer.Deserialize(BoundedFile.ReadAll(path, 1 << 20), PruneJson.Default.BlockLatencySearch); }
        catch (JsonException) { search = null; }
        var strength = PrunePlanner.BranchStrength(net);
        var droppable = net.Groups.Where(g => !double.IsNaN(strength[g.Index])).Select(g => g.Name).Order(StringComparer.Ordinal);
        static bool Valid(BlockCost? b) => b is { Group: not null, Nodes: >= 1 } && double.IsFinite(b.CostMs) && b.CostMs >= 0 && double.IsFinite(b.Strength) && b.Strength >= 0;
        if (search?.Blocks is null || search.Threads != threads || search.Runs < 1 || !double.IsFinite(search.KernelMs) || search.KernelMs <= 0
            || !search.Blocks.All(Valid) || !search.Blocks.Select(b => b.Group).Order(StringComparer.Ordinal).SequenceEqual(droppable))
            throw new CheckpointException($"'{path}' is not a block timing of this network with --latency-threads {threads}: the blocks it dropped cannot be chosen again; choose another --out");
        return search;
    }

    public static string Name(PruneCriterion c) => c switch { PruneCriterion.BatchNorm => "bn", _ => c.ToString().ToLowerInvariant() };

    private static long Parameters(ClassifierNet net) => net.parameters().Sum(p => p.numel());
}
