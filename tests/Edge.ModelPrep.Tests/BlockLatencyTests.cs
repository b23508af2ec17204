using Edge.ModelPrep.Models;
using Edge.ModelPrep.Pruning;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Tests;

/// <summary>
/// Latency-aware depth pruning: each droppable block's INT8 time is read from ONNX Runtime's profile of the network, and
/// blocks go by least branch strength per millisecond.
/// </summary>
public class BlockLatencyTests
{
    // The nodes ONNX Runtime runs for one block after QDQ fusion (BatchNorm folded, activations fused into their producer):
    // MobileNetV2's expand 1x1, depthwise 3x3, project 1x1 and the add; ResNet's two 3x3 convolutions and the add (with its
    // ReLU). The counts depend on ONNX Runtime 1.31's fusions: an upgrade that fuses differently shows here first.
    [TestCase("mobilenetv2", 0.35, 32, 3, 4)]
    [TestCase("resnet20", 0.25, 16, 1, 3)]
    public void EveryDroppableBlockIsTimedFromItsOwnNodes(string arch, double width, int size, int channels, int nodes)
    {
        var spec = new ArchSpec { Arch = arch, Width = width, InputSize = size, Channels = channels, Classes = 10 };
        manual_seed(61);
        using var net = Architectures.Create(spec);
        var progress = new RecordingProgress();
        var search = BlockLatency.Measure(net, ExportTests.Info(spec), threads: 1, progress, runs: 10);
        var strength = PrunePlanner.BranchStrength(net);
        var removable = net.Groups.Where(g => g.Removable).ToList();
        Assert.That(search.Blocks.Select(b => b.Group), Is.EqualTo(removable.Select(g => g.Name)));
        Assert.That(search.Blocks.Select(b => b.Strength), Is.EqualTo(removable.Select(g => strength[g.Index])));
        Assert.That(search.Blocks.Select(b => b.Nodes), Has.All.EqualTo(nodes));
        Assert.That(search.Blocks.Select(b => b.CostMs), Has.All.GreaterThan(0));
        Assert.That(search.Blocks.Sum(b => b.CostMs), Is.LessThan(search.KernelMs), "the stem and the head belong to no block");
        Assert.That((search.Threads, search.Runs), Is.EqualTo((1, 10)));
        foreach (var g in removable)
            Assert.That(progress.Lines, Has.Some.StartsWith("  " + g.Name[..g.Name.LastIndexOf('.')] + " "), "each block's time is said");
    }

    [Test]
    public void ABlocksTimeIsThatOfTheNodesInsideItOnly()
    {
        var times = new Dictionary<string, double>
        {
            ["blocks.1.conv1_token_3"] = 0.010, ["blocks.1.conv2_token_5"] = 0.020, ["blocks.1.add"] = 0.004,
            ["blocks.10.conv1_token_40"] = 0.5, ["blocks.10.add"] = 0.5, ["blocks.1_x"] = 0.5, ["blocks.1"] = 0.5, ["stem.conv_token_1"] = 0.5,
        };
        var (ms, nodes) = BlockLatency.Attribute(times, "blocks.1");
        Assert.That(nodes, Is.EqualTo(3));
        Assert.That(ms, Is.EqualTo(0.034).Within(1e-12));
        Assert.That(BlockLatency.Attribute(times, "blocks.2"), Is.EqualTo((0.0, 0)));
    }

    [Test]
    public void TimedBlocksAreDroppedByLeastStrengthPerMillisecond()
    {
        var spec = new ArchSpec { Arch = "resnet20", Width = 1.0, InputSize = 28, Channels = 1, Classes = 10 };
        manual_seed(62);
        using var net = Architectures.Create(spec);
        using (no_grad())
            foreach (var (name, p) in net.named_parameters())
                if (name.Contains("bn", StringComparison.Ordinal)) p.copy_(rand_like(p) + 0.1); // strengths that differ
        var strength = PrunePlanner.BranchStrength(net);
        var removable = net.Groups.Where(g => !double.IsNaN(strength[g.Index])).ToList();
        Assert.That(removable, Has.Count.EqualTo(7));
        // Cost = strength × (i + 1): strength per millisecond is 1 / (i + 1), so later blocks go first; the last costs
        // nothing measurable and goes last of all.
        var cost = removable.Select((g, i) => (g.Name, Ms: i == removable.Count - 1 ? 0 : strength[g.Index] * (i + 1))).ToDictionary(c => c.Name, c => c.Ms);
        var timed = new PruneSettings { TargetMacs = 1, DropBlocks = 2, BlockCostMs = cost };
        Assert.That(Dropped(timed), Is.EqualTo(new[] { removable[^3].Name, removable[^2].Name }));
        Assert.That(Dropped(timed with { DropBlocks = 7 }), Is.EqualTo(removable.Select(g => g.Name)));
        // Untimed: the weakest branches, whatever they cost.
        var weakest = removable.OrderBy(g => strength[g.Index]).Take(2).OrderBy(g => g.Index).Select(g => g.Name);
        Assert.That(Dropped(timed with { BlockCostMs = null }), Is.EqualTo(weakest));

        string[] Dropped(PruneSettings s)
        {
            var d = PrunePlanner.DroppedGroups(net, s);
            return [.. net.Groups.Where(g => d[g.Index]).Select(g => g.Name)];
        }
    }
}
