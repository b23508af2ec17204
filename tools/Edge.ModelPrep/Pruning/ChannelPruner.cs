using System.Globalization;
using Edge.ModelPrep.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Pruning;

/// <summary>
/// Structured pruning: builds the network again with fewer channels in some groups and copies the kept
/// channels' weights into it, so the result is physically smaller (not masked) and saves, exports and
/// trains like any network of its architecture.
/// </summary>
public static class ChannelPruner
{
    /// <summary>The spec of <paramref name="net"/> with the given channel count per group (no plan when nothing is pruned).</summary>
    public static ArchSpec PlanSpec(ClassifierNet net, IReadOnlyList<int> counts)
    {
        if (counts.Count != net.Groups.Count) throw new ArgumentException($"{counts.Count} counts for {net.Groups.Count} groups");
        var full = net.Groups.Select((g, i) => counts[i] == g.Full).All(x => x);
        return net.Spec with { Plan = full ? null : string.Join(",", counts.Select(c => c.ToString(CultureInfo.InvariantCulture))) };
    }

    /// <summary>
    /// A new network keeping, in each group, the channels <paramref name="keep"/> lists (indices into the
    /// group as it is in <paramref name="net"/>, at least one each; none drops a <see cref="ChannelGroup.Removable"/> group's
    /// residual branch), with their weights, BatchNorm statistics and order.
    /// </summary>
    public static ClassifierNet Prune(ClassifierNet net, IReadOnlyList<int[]> keep)
    {
        var groups = net.Groups;
        if (keep.Count != groups.Count) throw new ArgumentException($"{keep.Count} keep lists for {groups.Count} groups");
        for (var g = 0; g < groups.Count; g++)
        {
            var k = keep[g];
            if ((k.Length == 0 && !groups[g].Removable) || k.Any(i => i < 0 || i >= groups[g].Count) || k.Distinct().Count() != k.Length)
                throw new ArgumentException($"group {groups[g].Name}: keep list must name distinct channels of 0..{groups[g].Count - 1}{(groups[g].Removable ? " (or none, to drop its branch)" : ", at least one")}");
        }
        var pruned = Architectures.Create(PlanSpec(net, [.. keep.Select(k => k.Length)]));
        try
        {
            var dims = net.ChannelDims().ToDictionary(d => d.Tensor, d => d.Dims);
            var source = net.state_dict();
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var index = keep.Select(k => tensor(k.Order().Select(i => (long)i).ToArray())).ToArray();
            foreach (var (name, target) in pruned.state_dict())
            {
                var s = source[name];
                if (dims.TryGetValue(name, out var d))
                    for (var i = 0; i < d.Length; i++)
                        if (d[i] is { Prunable: true } g) s = s.index_select(i, index[g.Index]);
                // A tensor the dependency graph does not cover, or covers wrongly, cannot take the shape the plan built.
                if (!s.shape.SequenceEqual(target.shape))
                    throw new InvalidOperationException($"{name}: pruned to [{string.Join(",", s.shape)}] but the pruned network has [{string.Join(",", target.shape)}]");
                target.copy_(s);
            }
            pruned.train(net.training);
            return pruned;
        }
        catch
        {
            pruned.Dispose();
            throw;
        }
    }
}
