using System.Globalization;
using Edge.Cli;
using Edge.ModelPrep.Evaluation;
using Edge.ModelPrep.Export;
using Edge.ModelPrep.Models;
using Edge.ModelPrep.Training;

namespace Edge.ModelPrep.Pruning;

/// <summary>One candidate measured while searching for a latency target: the MAC budget planned, what the plan built, its latency.</summary>
public sealed record LatencyProbe(long BudgetMacs, long Macs, double LatencyMs);

/// <summary>
/// How a latency target became a MAC budget: the unpruned network's latency, every candidate measured and the
/// budget chosen (the largest whose pruned network met the target). Saved in the run so a resumed run prunes
/// to the same budget instead of measuring again.
/// </summary>
public sealed record LatencySearch(double TargetMs, int Threads, int Runs, double SourceMs, long SourceMacs, IReadOnlyList<LatencyProbe> Probes, long ChosenMacs, double ChosenMs);

/// <summary>
/// Turns a latency target into a MAC budget by measurement, since latency is not proportional to MACs (memory
/// traffic, per-operator overhead and kernel shapes differ by layer): candidates are planned with the same
/// planner and criterion as the pruning itself, built, exported and timed in ONNX Runtime (FP32, batch 1, the
/// given threads), and a bisection over the budget keeps the largest that meets the target.
/// </summary>
public static class LatencyBudget
{
    /// <summary>Bisection steps between the smallest allowed network and the unpruned one.</summary>
    public const int Steps = 7;

    /// <param name="target">Milliseconds, or with <paramref name="share"/> a share (0..1) of the unpruned network's latency measured here.</param>
    public static LatencySearch Find(ClassifierNet net, CheckpointState state, double[][] scores, PruneSettings settings, double target, bool share, int threads, int runs, ITrainingProgress progress)
    {
        var inv = CultureInfo.InvariantCulture;
        var probes = new List<LatencyProbe>();
        var sourceMacs = ModelExporter.CountMacs(net);
        var sourceMs = CheckpointEvaluator.MeasureLatency(net, state, threads, runs).P50Ms;
        var targetMs = share ? target * sourceMs : target; // one measurement of the source, so a share is always below it
        progress.Message(string.Create(inv, $"latency target {targetMs:0.###} ms: the unpruned network takes {sourceMs:0.###} ms ({sourceMacs / 1e6:0.##} M MACs, FP32, {threads} thread(s), median of {runs})"));
        if (sourceMs <= targetMs)
            throw new CliError(string.Create(inv, $"--target-latency {targetMs:0.###} ms: the network takes {sourceMs:0.###} ms already ({threads} thread(s)); nothing to prune"), ExitCodes.Usage);

        LatencyProbe Probe(long budget)
        {
            var plan = PrunePlanner.Plan(net, scores, settings with { TargetMacs = budget });
            using var candidate = Architectures.Create(ChannelPruner.PlanSpec(net, [.. plan.Keep.Select(k => k.Length)]));
            var probe = new LatencyProbe(budget, plan.Macs, CheckpointEvaluator.MeasureLatency(candidate, state with { Arch = candidate.Spec }, threads, runs).P50Ms);
            probes.Add(probe);
            progress.Message(string.Create(inv, $"  {probe.Macs / 1e6:0.###} M MACs: {probe.LatencyMs:0.###} ms{(probe.LatencyMs <= targetMs ? "" : " (over)")}"));
            return probe;
        }

        var smallestMacs = PrunePlanner.SmallestMacs(net, settings);
        var floor = Probe(smallestMacs);
        if (floor.LatencyMs > targetMs)
            throw new CliError(string.Create(inv,
                $"--target-latency {targetMs:0.###} ms is below the smallest network the minimums allow ({floor.LatencyMs:0.###} ms at {floor.Macs / 1e6:0.###} M MACs); lower --min-channels/--min-keep or raise the target"));

        // Bisection on the budget (in MACs, geometric since latency scales roughly with MACs).
        var best = floor;
        double lo = smallestMacs, hi = sourceMacs;
        for (var i = 0; i < Steps; i++)
        {
            var mid = Math.Sqrt(lo * hi);
            var p = Probe((long)mid);
            if (p.LatencyMs <= targetMs)
            {
                lo = mid;
                if (p.Macs > best.Macs) best = p;
            }
            else hi = mid;
        }
        progress.Message(string.Create(inv, $"latency target {targetMs:0.###} ms → budget {best.Macs / 1e6:0.###} M MACs ({best.LatencyMs:0.###} ms measured, {100.0 * best.Macs / sourceMacs:0.#}% of the MACs)"));
        return new LatencySearch(targetMs, threads, runs, sourceMs, sourceMacs, probes, best.Macs, best.LatencyMs);
    }
}
