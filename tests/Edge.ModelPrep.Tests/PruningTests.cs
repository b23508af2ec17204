using Edge.ModelPrep.Export;
using Edge.ModelPrep.Models;
using Edge.ModelPrep.Pruning;
using Edge.Onnx.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Tests;

/// <summary>
/// Structured pruning on every architecture: the pruned network must compute exactly what the full one
/// computes with the removed channels silenced (an independent expectation: the full network's own forward),
/// export to a graph ONNX's full checker accepts, and have the channels and MACs it reports.
/// </summary>
public class PruningTests
{
    // Export's cases, and a width so small that MobileNetV2's stages tie through residual adds.
    private static IEnumerable<TestCaseData> Cases() => ExportTests.Cases().Append(new TestCaseData("mobilenetv2", 0.1, 32, 3, 0));

    private static ClassifierNet Settled(ArchSpec spec, int seed)
    {
        manual_seed(seed);
        var net = Architectures.Create(spec);
        var images = randn(16, spec.Channels, spec.InputSize, spec.InputSize).data<float>().ToArray();
        ExportTests.SettleBatchNorm(net, images, 16, seed + 1);
        // Every weight non-trivial, biases too, so that a channel copied to the wrong place changes the answer.
        using (no_grad())
            foreach (var (name, p) in net.named_parameters())
                if (name.EndsWith("bias", StringComparison.Ordinal)) p.copy_(randn_like(p) * 0.1);
        return net;
    }

    /// <summary>A random non-empty subset of each group (sizes uniform in 1..count), seeded.</summary>
    private static int[][] RandomKeep(ClassifierNet net, int seed)
    {
        var rng = new Random(seed);
        return [.. net.Groups.Select(g => Enumerable.Range(0, g.Count).OrderBy(_ => rng.Next()).Take(rng.Next(1, g.Count + 1)).Order().ToArray())];
    }

    /// <summary>The full network's output with every channel not kept written as zero by all its producers.</summary>
    private static Tensor MaskedOutput(ClassifierNet net, int[][] keep, Tensor x)
    {
        var state = net.state_dict();
        using (no_grad())
            foreach (var (name, dims) in net.ChannelDims())
            {
                if (dims[0] is not { Prunable: true } g || name.Contains("running_", StringComparison.Ordinal)) continue;
                var removed = Enumerable.Range(0, g.Count).Except(keep[g.Index]).Select(i => (long)i).ToArray();
                if (removed.Length > 0) state[name].index_fill_(0, tensor(removed), 0);
            }
        net.eval();
        using (no_grad()) return net.call(x);
    }

    [TestCaseSource(nameof(Cases))]
    public void APrunedNetworkComputesTheFullOneWithTheRemovedChannelsSilenced(string arch, double width, int size, int channels, int stemStride)
    {
        var spec = new ArchSpec { Arch = arch, Width = width, InputSize = size, Channels = channels, Classes = 10, StemStride = stemStride == 0 ? null : stemStride };
        using var net = Settled(spec, 3);
        Assert.That(net.Groups, Is.Not.Empty);
        var keep = RandomKeep(net, 5);
        manual_seed(9);
        var x = randn(4, channels, size, size);
        net.eval();
        using var pruned = ChannelPruner.Prune(net, keep);
        pruned.eval();
        Tensor got;
        using (no_grad()) got = pruned.call(x);
        Assert.That(got.shape, Is.EqualTo(new long[] { 4, 10 }));
        Assert.That(pruned.Groups.Select(g => g.Count), Is.EqualTo(keep.Select(k => k.Length)), "the pruned network has the planned channels");
        Assert.That(pruned.Spec.Plan, Is.Not.Null);
        var expected = MaskedOutput(net, keep, x);
        var scale = expected.abs().max().item<float>();
        var diff = (got - expected).abs().max().item<float>();
        TestContext.Out.WriteLine($"{spec.Describe()}: {net.Groups.Count} groups, max |pruned - masked| {diff:g3} (scale {scale:g3})");
        Assert.That(diff, Is.LessThanOrEqualTo(1e-4 * Math.Max(1, scale)));
    }

    [Test]
    public void PruningNothingIsTheIdentity()
    {
        var spec = new ArchSpec { Arch = "mobilenetv3-small", Width = 0.5, InputSize = 32, Channels = 3, Classes = 4 };
        using var net = Settled(spec, 4);
        net.eval();
        using var same = ChannelPruner.Prune(net, [.. net.Groups.Select(g => Enumerable.Range(0, g.Count).ToArray())]);
        same.eval();
        Assert.That(same.Spec, Is.EqualTo(spec), "nothing pruned: no plan");
        var x = randn(3, 3, 32, 32);
        using (no_grad())
            Assert.That(same.call(x).data<float>().ToArray(), Is.EqualTo(net.call(x).data<float>().ToArray()));
    }

    /// <summary>
    /// ResNet-20's first group written out by hand: the stem and the three identity blocks of stage 1 write
    /// its 16 channels (residual adds), their first convolutions and the first shortcut of stage 2 read them.
    /// </summary>
    [Test]
    public void L1ImportanceSumsEveryWeightThatWritesOrReadsTheChannel()
    {
        var spec = new ArchSpec { Arch = "resnet20", Width = 1.0, InputSize = 28, Channels = 1, Classes = 10 };
        using var net = Settled(spec, 6);
        Assert.That(net.Groups[0].Name, Is.EqualTo("stem"));
        var state = net.state_dict();
        var expected = new double[16];
        void Add(string name, int dim)
        {
            var t = state[name];
            for (var c = 0; c < 16; c++) expected[c] += t.select(dim, c).abs().sum().item<float>();
        }
        Add("stem.conv.weight", 0);
        for (var b = 0; b < 3; b++)
        {
            Add($"blocks.{b}.conv1.conv.weight", 1);
            Add($"blocks.{b}.conv2.conv.weight", 0);
        }
        Add("blocks.3.conv1.conv.weight", 1);
        Add("blocks.3.downsample.conv.weight", 1);
        var got = ChannelImportance.Score(net, PruneCriterion.L1)[0];
        Assert.That(got, Is.EqualTo(expected).Within(1e-3).Percent);

        // BatchNorm γ: the four BatchNorms writing the group.
        var gammas = new[] { "stem.bn.weight", "blocks.0.conv2.bn.weight", "blocks.1.conv2.bn.weight", "blocks.2.conv2.bn.weight" }
            .Select(n => state[n].abs().data<float>().ToArray()).ToArray();
        Assert.That(ChannelImportance.Score(net, PruneCriterion.BatchNorm)[0],
            Is.EqualTo(Enumerable.Range(0, 16).Select(c => gammas.Sum(g => (double)g[c]))).Within(1e-4).Percent);
    }

    [TestCase("resnet20", 1.0, PruneScope.Global)]
    [TestCase("resnet20", 1.0, PruneScope.Layer)]
    [TestCase("mobilenetv2", 0.5, PruneScope.Global)]
    [TestCase("mobilenetv3-small", 1.0, PruneScope.Layer)]
    public void APlanMeetsTheMacBudgetWithRoundedCountsAndKeepsTheStrongestChannels(string arch, double width, PruneScope scope)
    {
        var spec = new ArchSpec { Arch = arch, Width = width, InputSize = 28, Channels = 1, Classes = 10 };
        using var net = Settled(spec, 7);
        var full = ModelExporter.CountMacs(net);
        var settings = new PruneSettings { TargetMacs = full / 2, Scope = scope, Criterion = PruneCriterion.L2 };
        var scores = ChannelImportance.Score(net, settings.Criterion);
        var plan = PrunePlanner.Plan(net, scores, settings);
        using var pruned = ChannelPruner.Prune(net, plan.Keep);
        var macs = ModelExporter.CountMacs(pruned);
        TestContext.Out.WriteLine($"{spec.Describe()} {scope}: {full / 1e6:0.00} M → {macs / 1e6:0.00} M MACs ({100.0 * macs / full:0.0}%)");
        Assert.That(macs, Is.EqualTo(plan.Macs));
        Assert.That(macs, Is.LessThanOrEqualTo(full / 2));
        Assert.That(macs, Is.GreaterThan(full * 0.35), "no more pruning than the budget needs");
        for (var g = 0; g < net.Groups.Count; g++)
        {
            var group = net.Groups[g];
            var n = plan.Keep[g].Length;
            Assert.That(n % 8 == 0 || n == group.Count, $"{group.Name}: {n} channels, not a multiple of 8");
            Assert.That(n, Is.GreaterThanOrEqualTo(Math.Min(group.Count, Math.Max(8, (int)Math.Ceiling(0.1 * group.Full)))));
            var weakestKept = plan.Keep[g].Min(i => scores[g][i]);
            var strongestDropped = Enumerable.Range(0, group.Count).Except(plan.Keep[g]).Select(i => scores[g][i]).DefaultIfEmpty(double.NegativeInfinity).Max();
            Assert.That(weakestKept, Is.GreaterThanOrEqualTo(strongestDropped), $"{group.Name}: a weaker channel kept over a stronger one");
        }
        Assert.That(plan.Keep.Select(k => k.Length).Sum(), Is.LessThan(net.Groups.Sum(g => g.Count)));
    }

    [Test]
    public void ABudgetBelowTheMinimumsIsRefusedWithTheFlagsToChange()
    {
        var spec = new ArchSpec { Arch = "resnet20", Width = 1.0, InputSize = 28, Channels = 1, Classes = 10 };
        using var net = Settled(spec, 8);
        var e = Assert.Throws<Cli.CliError>(() => PrunePlanner.Plan(net, ChannelImportance.Score(net, PruneCriterion.L1), new PruneSettings { TargetMacs = 1000 }));
        Assert.That(e!.Message, Does.Contain("--target-macs").And.Contain("--min-channels"));
    }

    [Test]
    public void APlanThatDoesNotFitTheNetworkIsRefusedByGroup()
    {
        var spec = new ArchSpec { Arch = "resnet20", Width = 1.0, InputSize = 28, Channels = 1, Classes = 10 };
        Assert.That(() => Architectures.Create(spec with { Plan = "8,8" }), Throws.TypeOf<Cli.CliError>().With.Message.Contain("2 counts").And.Message.Contain("12 channel groups"));
        Assert.That(() => Architectures.Create(spec with { Plan = "17" + string.Concat(Enumerable.Repeat(",8", 11)) }),
            Throws.TypeOf<Cli.CliError>().With.Message.Contain("stem").And.Message.Contain("1..16"));
        Assert.That(() => Architectures.Create(spec with { Plan = "8,x" }), Throws.TypeOf<Cli.CliError>().With.Message.Contain("channel plan"));
    }

    [Category(Needs.Python)]
    [TestCaseSource(nameof(Cases))]
    public void AnExportedPrunedNetworkPassesTheFullCheckerWithTheReportedChannelsAndMacs(string arch, double width, int size, int channels, int stemStride)
    {
        var spec = new ArchSpec { Arch = arch, Width = width, InputSize = size, Channels = channels, Classes = 10, StemStride = stemStride == 0 ? null : stemStride };
        using var net = Settled(spec, 10);
        using var pruned = ChannelPruner.Prune(net, RandomKeep(net, 11));
        pruned.eval();
        var model = ModelExporter.ToOnnx(pruned, ExportTests.Info(pruned.Spec));
        using var dir = new TempDir();
        Python.CheckModel(TestModels.Save(model, dir.File("pruned.onnx")));
        var report = ModelInspector.Inspect(model);
        Assert.That(report.LayersWithUnknownMacs, Is.Zero);
        Assert.That(report.TotalMacs, Is.EqualTo(ModelExporter.CountMacs(pruned)));
        var layers = report.Layers.ToDictionary(l => l.Name);
        var checkedLayers = 0;
        foreach (var (name, dims) in pruned.ChannelDims())
        {
            if (!name.EndsWith(".conv.weight", StringComparison.Ordinal) || dims[0] is not { } g) continue;
            var node = name[..^".conv.weight".Length];
            Assert.That(layers[node].OutputShape![1], Is.EqualTo(g.Count), $"{node} writes group {g.Name}");
            checkedLayers++;
        }
        Assert.That(checkedLayers, Is.GreaterThan(5));
    }
}
