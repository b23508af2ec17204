using System.Globalization;
using Edge.Cli;
using Edge.ModelPrep.Export;
using Edge.ModelPrep.Models;
using TorchSharp;

namespace Edge.ModelPrep.Pruning;

/// <summary>What to prune to and how.</summary>
public sealed record PruneSettings
{
    /// <summary>Multiply-accumulates per image the pruned network may have at most.</summary>
    public required long TargetMacs { get; init; }
    public PruneCriterion Criterion { get; init; } = PruneCriterion.L2;
    public PruneScope Scope { get; init; } = PruneScope.Global;
    /// <summary>Fewest channels a group keeps (or all it has, when it has fewer).</summary>
    public int MinChannels { get; init; } = 8;
    /// <summary>Smallest share of its full width a group keeps.</summary>
    public double MinKeep { get; init; } = 0.1;
    /// <summary>Kept counts are rounded up to a multiple of this (integer kernels run fastest on multiples of 8); 1 = no rounding.</summary>
    public int RoundTo { get; init; } = 8;
    /// <summary>
    /// Residual branches dropped whole before channels are pruned (depth pruning: the blocks whose branch adds least,
    /// by <see cref="PrunePlanner.BranchStrength"/>). Fewer layers is what makes a small integer model faster: its
    /// kernels cost a few microseconds each whatever their width. Counts branches dropped already.
    /// </summary>
    public int DropBlocks { get; init; }
    /// <summary>
    /// When set, blocks are dropped by branch strength per millisecond of INT8 time they cost (measured by
    /// <see cref="BlockLatency"/>, by group name) instead of by strength alone.
    /// </summary>
    public IReadOnlyDictionary<string, double>? BlockCostMs { get; init; }
}

/// <summary>The channels to keep in each group and what the result costs.</summary>
public sealed record PrunePlan(IReadOnlyList<int[]> Keep, long Macs);

/// <summary>
/// Chooses how many channels each group keeps so that the network fits a MAC budget: globally (one
/// importance threshold across all groups, scores normalised by their group's mean) or per layer (one
/// share for every group); counts rounded up to multiples of <see cref="PruneSettings.RoundTo"/> and kept
/// above the minimums; within a group the most important channels stay. MACs are counted on the network
/// the plan builds, so every rounding is paid for.
/// </summary>
public static class PrunePlanner
{
    /// <summary>Refuses, before any work, a budget below the smallest network the minimums allow.</summary>
    public static void CheckReachable(ClassifierNet net, PruneSettings settings)
    {
        var macs = SmallestMacs(net, settings);
        if (macs > settings.TargetMacs) throw Unreachable(settings, macs);
    }

    /// <summary>MACs of the smallest network the minimums allow (every group at <see cref="Minimum"/>, the dropped branches gone).</summary>
    public static long SmallestMacs(ClassifierNet net, PruneSettings settings)
    {
        var dropped = DroppedGroups(net, settings);
        using var candidate = Architectures.Create(ChannelPruner.PlanSpec(net, [.. net.Groups.Select(g => Minimum(g, settings, dropped[g.Index]))]));
        return ModelExporter.CountMacs(candidate);
    }

    /// <summary>The fewest channels a group keeps: the minimums rounded up to the rounding step, never more than it has (none when dropped).</summary>
    public static int Minimum(ChannelGroup g, PruneSettings settings, bool dropped = false)
    {
        if (dropped) return 0;
        var n = Math.Max(settings.MinChannels, (int)Math.Ceiling(settings.MinKeep * g.Full));
        return Math.Min(g.Count, (n + settings.RoundTo - 1) / settings.RoundTo * settings.RoundTo);
    }

    private static CliError Unreachable(PruneSettings settings, long smallest) => new(string.Create(CultureInfo.InvariantCulture,
        $"--target-macs {settings.TargetMacs / 1e6:0.###} M is below the smallest network the minimums allow ({smallest / 1e6:0.###} M MACs with --min-channels {settings.MinChannels} and --min-keep {settings.MinKeep}); lower them or raise the target"));

    /// <summary>
    /// How much each residual branch adds to its block's output, by the scale and shift of the branch's last BatchNorm
    /// (the root mean square of γ² + β² over its channels: what the branch writes into the sum, in units of the
    /// normalised activations), indexed like <see cref="ClassifierNet.Groups"/>; NaN where a group cannot be dropped.
    /// The branch's last layer is the one that reads the group and writes another.
    /// </summary>
    public static double[] BranchStrength(ClassifierNet net)
    {
        var strength = net.Groups.Select(_ => double.NaN).ToArray();
        var state = net.state_dict();
        foreach (var (name, dims) in net.ChannelDims())
        {
            if (!name.EndsWith("conv.weight", StringComparison.Ordinal) || dims.Length < 2) continue;
            if (dims[1] is not { Removable: true, Dropped: false } g || dims[0] == g) continue;
            var bn = name[..^"conv.weight".Length] + "bn.";
            if (!state.TryGetValue(bn + "weight", out var gamma) || !state.TryGetValue(bn + "bias", out var beta)) continue;
            using var _ = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            strength[g.Index] = (gamma.pow(2) + beta.pow(2)).mean().sqrt().to_type(torch.ScalarType.Float64).item<double>();
        }
        return strength;
    }

    /// <summary>
    /// The groups whose branch goes: those dropped already, then the weakest removable ones (<see cref="BranchStrength"/>,
    /// or strength per millisecond of INT8 time when <see cref="PruneSettings.BlockCostMs"/> is known) up to
    /// <see cref="PruneSettings.DropBlocks"/>. Indexed like <see cref="ClassifierNet.Groups"/>.
    /// </summary>
    public static bool[] DroppedGroups(ClassifierNet net, PruneSettings settings)
    {
        var groups = net.Groups;
        var dropped = groups.Select(g => g.Dropped).ToArray();
        var more = settings.DropBlocks - dropped.Count(d => d);
        if (more <= 0) return dropped;
        var strength = BranchStrength(net);
        double Key(ChannelGroup g) => settings.BlockCostMs is { } cost
            ? BlockLatency.DropScore(strength[g.Index], cost.TryGetValue(g.Name, out var ms) ? ms : 0)
            : strength[g.Index];
        var candidates = groups.Where(g => !double.IsNaN(strength[g.Index])).OrderBy(Key).ThenBy(g => strength[g.Index]).ThenBy(g => g.Index).ToList();
        if (candidates.Count < more)
            throw new CliError($"--drop-blocks {settings.DropBlocks}: {net.Spec.Describe()} has {candidates.Count + dropped.Count(d => d)} residual blocks whose branch can be dropped (those with an identity shortcut{(net.Spec.Arch == "mobilenetv3-small" ? "; MobileNetV3-Small's are not supported" : "")})", ExitCodes.Usage);
        foreach (var g in candidates.Take(more)) dropped[g.Index] = true;
        return dropped;
    }

    public static PrunePlan Plan(ClassifierNet net, double[][] scores, PruneSettings settings)
    {
        var groups = net.Groups;
        var dropped = DroppedGroups(net, settings);
        var normalized = ChannelImportance.Normalize(scores);
        var cache = new Dictionary<string, long>();
        long Macs(int[] counts)
        {
            var key = string.Join(",", counts);
            if (cache.TryGetValue(key, out var m)) return m;
            using var candidate = Architectures.Create(ChannelPruner.PlanSpec(net, counts));
            return cache[key] = ModelExporter.CountMacs(candidate);
        }
        int Min(ChannelGroup g) => Minimum(g, settings, dropped[g.Index]);
        int Round(ChannelGroup g, int n) => dropped[g.Index] ? 0 :
            Math.Clamp((n + settings.RoundTo - 1) / settings.RoundTo * settings.RoundTo, Min(g), g.Count);

        // Counts as a function of one knob t in [0, 1]: t = 0 keeps everything, t = 1 the minimums; monotone.
        Func<double, int[]> countsAt;
        if (settings.Scope == PruneScope.Layer)
            countsAt = t => [.. groups.Select(g => Round(g, (int)Math.Ceiling((1 - t) * g.Count)))];
        else
        {
            var thresholds = normalized.SelectMany(s => s).Distinct().Order().ToArray();
            countsAt = t =>
            {
                // Channels scoring below the threshold go; t indexes the sorted scores.
                var cut = t <= 0 ? double.NegativeInfinity : thresholds[Math.Min(thresholds.Length - 1, (int)(t * thresholds.Length))];
                return [.. groups.Select((g, i) => Round(g, normalized[i].Count(v => v >= cut)))];
            };
        }

        var full = countsAt(0);
        if (Macs(full) <= settings.TargetMacs) return Keep(full, Macs(full));
        var smallest = groups.Select(Min).ToArray();
        if (Macs(smallest) > settings.TargetMacs)
            throw Unreachable(settings, Macs(smallest));
        // Bisection for the least pruning that fits the budget.
        double lo = 0, hi = 1;
        for (var i = 0; i < 40 && hi - lo > 1e-6; i++)
        {
            var mid = (lo + hi) / 2;
            if (Macs(countsAt(mid)) <= settings.TargetMacs) hi = mid; else lo = mid;
        }
        var counts = countsAt(hi);
        if (Macs(counts) > settings.TargetMacs) counts = smallest;
        Refill(counts);
        return Keep(counts, Macs(counts));

        // Rounding makes the steps coarse (a 16-channel group keeps 8 or 16): the budget left is handed back one
        // rounding step at a time, to the strongest channels left out (global) or the most pruned group (per layer).
        void Refill(int[] n)
        {
            var order = normalized.Select(s => s.OrderDescending().ToArray()).ToArray();
            while (true)
            {
                var best = -1;
                var bestValue = double.NegativeInfinity;
                var used = Macs(n);
                for (var g = 0; g < n.Length; g++)
                {
                    if (n[g] >= groups[g].Count || dropped[g]) continue;
                    var grown = (int[])n.Clone();
                    grown[g] = Round(groups[g], n[g] + 1);
                    var cost = Macs(grown);
                    if (cost > settings.TargetMacs) continue;
                    var value = settings.Scope == PruneScope.Layer
                        ? -(double)n[g] / groups[g].Count
                        : order[g].Skip(n[g]).Take(grown[g] - n[g]).Sum() / Math.Max(1, cost - used);
                    if (value > bestValue) (best, bestValue) = (g, value);
                }
                if (best < 0) return;
                n[best] = Round(groups[best], n[best] + 1);
            }
        }

        PrunePlan Keep(int[] n, long macs) => new(
            [.. n.Select((c, i) => scores[i].Select((v, j) => (v, j)).OrderByDescending(p => p.v).ThenBy(p => p.j).Take(c).Select(p => p.j).Order().ToArray())],
            macs);
    }
}
