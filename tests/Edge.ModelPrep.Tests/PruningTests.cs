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
    /// <summary>The block path of a removable group ("blocks.3" of "blocks.3.inner").</summary>
    private static string BlockOf(ChannelGroup g) => g.Name[..g.Name.LastIndexOf('.')];

    /// <summary>
    /// Silences the branch of the given removable groups' blocks (the branch's last BatchNorm writes 0: γ = β = 0), so
    /// that each block computes its shortcut alone, exactly, in the full network itself.
    /// </summary>
    private static void SilenceBranches(ClassifierNet net, IEnumerable<ChannelGroup> groups)
    {
        var state = net.state_dict();
        var silenced = 0;
        using (no_grad())
            foreach (var g in groups)
                foreach (var (name, dims) in net.ChannelDims())
                    if (name.EndsWith("conv.weight", StringComparison.Ordinal) && dims.Length > 1 && dims[1] == g && dims[0] != g)
                    {
                        var bn = name[..^"conv.weight".Length] + "bn.";
                        state[bn + "weight"].zero_();
                        state[bn + "bias"].zero_();
                        silenced++;
                    }
        Assert.That(silenced, Is.EqualTo(groups.Count()), "one branch output per group");
    }

    private static IEnumerable<TestCaseData> DropCases() =>
    [
        new("resnet20", 1.0, 28, 1, 2), new("resnet18", 0.25, 32, 3, 0), new("mobilenetv2", 0.35, 32, 3, 0),
    ];

    /// <summary>
    /// Depth pruning: a dropped block is its shortcut. Expected output from the full network itself with the dropped
    /// blocks' branches silenced and the other removed channels zeroed, so the planner must also choose exactly the
    /// silenced branches as the weakest.
    /// </summary>
    [TestCaseSource(nameof(DropCases))]
    public void ADroppedBlockIsItsShortcutAndThePlannerDropsTheWeakestBranches(string arch, double width, int size, int channels, int stemStride)
    {
        var spec = new ArchSpec { Arch = arch, Width = width, InputSize = size, Channels = channels, Classes = 10, StemStride = stemStride == 0 ? null : stemStride };
        using var net = Settled(spec, 21);
        var removable = net.Groups.Where(g => g.Removable).ToList();
        Assert.That(removable.Count, Is.GreaterThanOrEqualTo(3), "identity-shortcut blocks");
        var silent = new[] { removable[0], removable[^1] };
        SilenceBranches(net, silent);
        var strength = PrunePlanner.BranchStrength(net);
        Assert.That(net.Groups.Where(g => !g.Removable).Select(g => strength[g.Index]), Is.All.NaN, "only removable groups have a branch to drop");
        var dropped = PrunePlanner.DroppedGroups(net, new PruneSettings { TargetMacs = 1, DropBlocks = 2 });
        Assert.That(net.Groups.Where(g => dropped[g.Index]), Is.EqualTo(silent), "the silenced branches are the weakest");

        var keep = RandomKeep(net, 22);
        foreach (var g in silent) keep[g.Index] = [];
        using var pruned = ChannelPruner.Prune(net, keep);
        pruned.eval();
        Assert.That(pruned.Groups.Where(g => g.Dropped), Is.EqualTo(silent.Select(g => g with { Count = 0 })));
        manual_seed(23);
        var x = randn(4, channels, size, size);
        Tensor got;
        using (no_grad()) got = pruned.call(x);
        var expected = MaskedOutput(net, keep, x);
        var diff = (got - expected).abs().max().item<float>();
        Assert.That(diff, Is.LessThanOrEqualTo(1e-4 * Math.Max(1, expected.abs().max().item<float>())), $"max |dropped - silenced| {diff:g3}");

        // Saved and loaded by its spec alone (a plan with zeros), and exported without the dropped blocks' layers.
        using var rebuilt = Architectures.Create(pruned.Spec);
        Assert.That(rebuilt.Groups.Select(g => g.Count), Is.EqualTo(pruned.Groups.Select(g => g.Count)));
        var report = ModelInspector.Inspect(ModelExporter.ToOnnx(pruned, ExportTests.Info(pruned.Spec)));
        Assert.That(report.TotalMacs, Is.EqualTo(ModelExporter.CountMacs(pruned)));
        foreach (var g in silent)
            Assert.That(report.Layers.Select(l => l.Name), Has.None.StartsWith(BlockOf(g) + "."), $"{BlockOf(g)} exports nothing");
        using var full = ChannelPruner.Prune(net, keep.Select((k, i) => silent.Any(g => g.Index == i) ? Enumerable.Range(0, net.Groups[i].Count).ToArray() : k).ToList());
        var convs = ModelInspector.Inspect(ModelExporter.ToOnnx(full, ExportTests.Info(full.Spec))).Layers.Count(l => l.OpType == "Conv");
        var branch = arch == "mobilenetv2" ? 3 : 2;
        Assert.That(report.Layers.Count(l => l.OpType == "Conv"), Is.EqualTo(convs - branch * silent.Length), "each dropped block's convolutions gone");
    }

    [Test]
    public void APlanThatDropsBlocksMeetsTheBudgetAndALaterStepKeepsThemDropped()
    {
        var spec = new ArchSpec { Arch = "resnet20", Width = 1.0, InputSize = 28, Channels = 1, Classes = 10 };
        using var net = Settled(spec, 31);
        var macs = ModelExporter.CountMacs(net);
        var settings = new PruneSettings { TargetMacs = macs / 2, DropBlocks = 3 };
        var plan = PrunePlanner.Plan(net, ChannelImportance.Score(net, PruneCriterion.L2), settings);
        Assert.That(plan.Macs, Is.LessThanOrEqualTo(macs / 2));
        var empty = plan.Keep.Select((k, i) => (k, i)).Where(p => p.k.Length == 0).Select(p => net.Groups[p.i]).ToList();
        Assert.That(empty, Has.Count.EqualTo(3).And.All.Matches<ChannelGroup>(g => g.Removable));
        Assert.That(plan.Keep.Where(k => k.Length > 0), Has.All.Matches<int[]>(k => k.Length % 8 == 0), "the others rounded as before");
        using var pruned = ChannelPruner.Prune(net, plan.Keep);
        Assert.That(ModelExporter.CountMacs(pruned), Is.EqualTo(plan.Macs));
        // A second step with the same setting drops no more: the three count.
        var again = PrunePlanner.DroppedGroups(pruned, settings);
        Assert.That(pruned.Groups.Where(g => again[g.Index]).Select(g => g.Name), Is.EqualTo(empty.Select(g => g.Name)));
        var second = PrunePlanner.Plan(pruned, ChannelImportance.Score(pruned, PruneCriterion.L2), settings with { TargetMacs = plan.Macs * 3 / 4 });
        Assert.That(second.Keep.Count(k => k.Length == 0), Is.EqualTo(3));

        // ResNet-20 has 7 identity blocks (3 + 2 + 2; each stage's first changes shape); MobileNetV3-Small's cannot be dropped.
        Assert.That(() => PrunePlanner.DroppedGroups(net, settings with { DropBlocks = 8 }),
            Throws.TypeOf<Cli.CliError>().With.Message.EqualTo("--drop-blocks 8: resnet20 28x28x1 → 10 classes has 7 residual blocks whose branch can be dropped (those with an identity shortcut)"));
        using var small = Architectures.Create(new ArchSpec { Arch = "mobilenetv3-small", InputSize = 32, Channels = 3, Classes = 4 });
        Assert.That(() => PrunePlanner.DroppedGroups(small, new PruneSettings { TargetMacs = 1, DropBlocks = 1 }),
            Throws.TypeOf<Cli.CliError>().With.Message.Contain("MobileNetV3-Small's are not supported"));
        // A plan cannot drop a group that is not removable.
        Assert.That(() => Architectures.Create(spec with { Plan = "0," + string.Join(",", net.Groups.Skip(1).Select(g => g.Count)) }),
            Throws.TypeOf<Cli.CliError>().With.Message.Contain("0 is not in 1..16"));
    }

    [Category(Needs.Python)]
    [Test]
    public void ANetworkWithDroppedBlocksPassesTheFullChecker()
    {
        var spec = new ArchSpec { Arch = "mobilenetv2", Width = 0.35, InputSize = 32, Channels = 3, Classes = 10 };
        using var net = Settled(spec, 41);
        var plan = PrunePlanner.Plan(net, ChannelImportance.Score(net, PruneCriterion.L2),
            new PruneSettings { TargetMacs = ModelExporter.CountMacs(net) * 6 / 10, DropBlocks = 4 });
        using var pruned = ChannelPruner.Prune(net, plan.Keep);
        using var dir = new TempDir();
        Python.CheckModel(TestModels.Save(ModelExporter.ToOnnx(pruned, ExportTests.Info(pruned.Spec)), dir.File("dropped.onnx")));
    }
}
