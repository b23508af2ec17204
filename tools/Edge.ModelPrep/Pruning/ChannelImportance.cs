using Edge.ModelPrep.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Pruning;

/// <summary>Importance of every channel of every group of a network, by a <see cref="PruneCriterion"/>.</summary>
public static class ChannelImportance
{
    /// <summary>One score per channel of each group (indexed like <see cref="ClassifierNet.Groups"/>), larger = more important.</summary>
    public static double[][] Score(ClassifierNet net, PruneCriterion criterion)
    {
        var groups = net.Groups;
        var sums = groups.Select(g => new double[g.Count]).ToArray();
        var hasBatchNorm = new bool[groups.Count];
        var state = net.state_dict();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (name, dims) in net.ChannelDims())
        {
            var t = state[name];
            var isBatchNormScale = name.EndsWith("bn.weight", StringComparison.Ordinal);
            // Weights only: biases and BatchNorm statistics say nothing of how much a channel is used.
            var isWeight = name.EndsWith(".weight", StringComparison.Ordinal) && t.dim() >= 2;
            for (var d = 0; d < dims.Length; d++)
            {
                if (dims[d] is not { Prunable: true } g) continue;
                if (criterion == PruneCriterion.BatchNorm && isBatchNormScale)
                {
                    if (!hasBatchNorm[g.Index]) Array.Clear(sums[g.Index]); // weights gathered before the first BatchNorm give way to it
                    hasBatchNorm[g.Index] = true;
                    Add(sums[g.Index], t.abs());
                }
                else if (isWeight && !(criterion == PruneCriterion.BatchNorm && hasBatchNorm[g.Index]))
                {
                    var rows = t.movedim([d], [0]).reshape(t.shape[d], -1);
                    Add(sums[g.Index], criterion == PruneCriterion.L2 ? rows.pow(2).sum(1) : rows.abs().sum(1));
                }
            }
        }
        if (criterion == PruneCriterion.L2)
            foreach (var s in sums) for (var i = 0; i < s.Length; i++) s[i] = Math.Sqrt(s[i]);
        return sums;
    }

    /// <summary>Scores divided by their group's mean, so that channels of different layers can be ranked together.</summary>
    public static double[][] Normalize(double[][] scores) =>
        [.. scores.Select(s =>
        {
            var mean = s.Length == 0 ? 0 : s.Average();
            return mean > 0 ? s.Select(v => v / mean).ToArray() : s.Select(_ => 1.0).ToArray();
        })];

    private static void Add(double[] into, Tensor values)
    {
        var v = values.to_type(ScalarType.Float64).data<double>().ToArray();
        if (v.Length != into.Length) throw new InvalidOperationException($"a tensor has {v.Length} channels where its group has {into.Length}");
        for (var i = 0; i < v.Length; i++) into[i] += v[i];
    }
}
