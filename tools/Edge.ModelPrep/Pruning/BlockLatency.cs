using System.Globalization;
using System.Text.Json.Serialization;
using Edge.Cli;
using Edge.Host.Evaluation;
using Edge.Host.Quantization;
using Edge.ModelPrep.Export;
using Edge.ModelPrep.Models;
using Edge.ModelPrep.Training;

namespace Edge.ModelPrep.Pruning;

/// <summary>One residual branch that can be dropped: how much it adds (<see cref="PrunePlanner.BranchStrength"/>) and the INT8 kernel time of its nodes.</summary>
public sealed record BlockCost([property: JsonRequired] string Group, [property: JsonRequired] double Strength, [property: JsonRequired] double CostMs, [property: JsonRequired] int Nodes);

/// <summary>
/// What each droppable residual branch costs in the INT8 model on this machine: the network's total kernel time and each
/// branch's share. Saved in the run, so a resumed run drops the same blocks.
/// </summary>
public sealed record BlockLatencySearch([property: JsonRequired] int Threads, [property: JsonRequired] int Runs, [property: JsonRequired] double KernelMs, [property: JsonRequired] IReadOnlyList<BlockCost> Blocks);

/// <summary>
/// Measures the INT8 time of each droppable residual branch: the network is exported, given a QDQ form (weights and
/// activation ranges do not change which integer kernels run, so no calibration is needed) and profiled in ONNX Runtime
/// (<see cref="NodeProfiler"/>); a block's cost is the kernel time of the nodes named after it (the exporter names every
/// node by its module's path). MACs are a poor guide here: ONNX Runtime's integer depthwise convolution costs about the
/// same whatever its channel count, so a block at high resolution costs several times what its MACs suggest. Timing the
/// network without each block instead would compare separate sessions, which differ by as much as a block costs.
/// </summary>
public static class BlockLatency
{
    /// <summary>Profiled runs (each node's median is used).</summary>
    public const int Runs = 300;

    public static BlockLatencySearch Measure(ClassifierNet net, ExportInfo info, int threads, ITrainingProgress progress, int runs = Runs)
    {
        var inv = CultureInfo.InvariantCulture;
        var strength = PrunePlanner.BranchStrength(net);
        var candidates = net.Groups.Where(g => !double.IsNaN(strength[g.Index])).ToList();
        progress.Message($"profiling the INT8 network for the time of its {candidates.Count} droppable residual blocks ({threads} thread(s), median of {runs} runs)");
        var times = NodeProfiler.Profile(Int8(net, info), threads, runs);
        var total = times.Values.Sum();
        var blocks = new List<BlockCost>();
        foreach (var g in candidates)
        {
            var block = BlockPathOf(g.Name);
            var (ms, nodes) = Attribute(times, block);
            if (nodes == 0)
                throw new CliError($"--drop-by latency: ONNX Runtime's profile names no node of block {block}; use --drop-by strength");
            blocks.Add(new BlockCost(g.Name, strength[g.Index], ms, nodes));
        }
        progress.Message(string.Create(inv, $"INT8 kernel time {total:0.###} ms; each block's branch strength and time:"));
        foreach (var b in blocks.OrderByDescending(b => b.CostMs))
            progress.Message(string.Create(inv, $"  {BlockPathOf(b.Group),-14} strength {b.Strength,6:0.000}  {b.CostMs,6:0.000} ms ({b.CostMs / total:0.0%})"));
        return new BlockLatencySearch(threads, runs, total, blocks);
    }

    /// <summary>The time and count of the profiled nodes inside <paramref name="block"/>: named <c>BLOCK.…</c> (so <c>blocks.1</c> does not take <c>blocks.10</c>'s).</summary>
    internal static (double Ms, int Nodes) Attribute(IReadOnlyDictionary<string, double> times, string block)
    {
        var nodes = times.Where(t => t.Key.StartsWith(block + ".", StringComparison.Ordinal)).ToList();
        return (nodes.Sum(n => n.Value), nodes.Count);
    }

    /// <summary>
    /// The module path of the block a removable group belongs to: architectures name a residual branch's group
    /// <c>BLOCK.PART</c> (MobileNetV2's <c>features.3.hidden</c>, ResNet's <c>blocks.1.inner</c>), and the exporter
    /// names the block's nodes <c>BLOCK.…</c>.
    /// </summary>
    private static string BlockPathOf(string group) => group.LastIndexOf('.') is var i and > 0 ? group[..i] : group;

    /// <summary>The network's QDQ INT8 form as <c>quantize</c> writes it (7-bit weights), with placeholder activation ranges.</summary>
    private static byte[] Int8(ClassifierNet net, ExportInfo info)
    {
        var fp32 = ModelExporter.ToOnnx(net, info);
        var prepared = GraphPreparer.Prepare(fp32, out _);
        var ranges = new QdqPlan(prepared, new HashSet<string>()).CalibratedTensors.ToDictionary(t => t, _ => (-4f, 4f));
        return Google.Protobuf.MessageExtensions.ToByteArray(QdqQuantizer.Quantize(prepared, ranges, new QdqOptions()).Model);
    }

    /// <summary>
    /// The order in which blocks are dropped when their cost is known: least branch strength per millisecond first
    /// (a block that costs nothing measurable comes last). Lower is dropped sooner.
    /// </summary>
    public static double DropScore(double strength, double costMs) => costMs > 0 ? strength / costMs : double.PositiveInfinity;
}
