using System.Globalization;
using Edge.Host.Datasets;
using Edge.ModelPrep.Data;
using Edge.ModelPrep.Evaluation;
using Edge.ModelPrep.Export;
using Edge.ModelPrep.Models;
using Edge.ModelPrep.Training;
using Edge.Onnx.Model;

namespace Edge.ModelPrep.Tests;

/// <summary>Short real training runs on Fashion-MNIST subsets (seconds each).</summary>
public class TrainingTests
{
    private static TrainOptions Tiny(string arch = "resnet20", int epochs = 4) => new()
    {
        Data = "fashion-mnist", MaxImages = 1000, ValFraction = 0.2, Epochs = epochs, BatchSize = 32, LearningRate = 0.05,
        WarmupEpochs = 0.2, Arch = new ArchSpec { Arch = arch, Width = 0.25, InputSize = 16, Channels = 1, Classes = 10 },
        Color = "gray", Augmentation = AugmentationOptions.Light with { Erasing = 0 }, LabelSmoothing = 0, Seed = 11, Threads = 2,
    };

    private static List<(int Step, int Epoch, double Loss)> Steps(RunFolder run) =>
        [.. File.ReadLines(run.Steps).Skip(1).Select(l => l.Split(','))
            .Select(f => (int.Parse(f[0], CultureInfo.InvariantCulture), int.Parse(f[1], CultureInfo.InvariantCulture), double.Parse(f[3], CultureInfo.InvariantCulture)))];

    [Category(Needs.Training)]
    [Category(Needs.FashionMnist)]
    [Test]
    public void ATinyRunLowersTheLossAndBeatsChanceOnTheTestSet()
    {
        using var dir = new TempDir();
        var run = new RunFolder(dir.File("run"));
        var result = new Trainer(Tiny(), run, new RecordingProgress()).Run(resume: false);

        Assert.That(result.Epochs, Has.Count.EqualTo(4));
        Assert.That(result.Epochs[^1].TrainLoss, Is.LessThan(result.Epochs[0].TrainLoss * 0.8));
        Assert.That(result.TrainImages + result.ValImages, Is.EqualTo(1000));
        Assert.That(File.ReadLines(run.Metrics).Count(), Is.EqualTo(5), "header + one line per epoch");
        Assert.That(Directory.GetFiles(run.TensorBoard, "events.out.tfevents.*"), Is.Not.Empty);
        Assert.That(File.ReadAllText(run.Config), Does.Contain("horizontal flip"), "augmentation listed in the run's config");

        // 500 test images the run never saw: chance is 10%.
        var test = IdxImageSet.FashionMnist("test");
        var report = CheckpointEvaluator.Evaluate(run.Best, test, test.Sample(500, 1), threads: 1, latencyRuns: 0);
        TestContext.Out.WriteLine($"tiny run: test top-1 {report.Top1:0.0}%");
        Assert.That(report.Top1, Is.GreaterThan(50));
        Assert.That(report.Top5, Is.GreaterThan(report.Top1));
    }

    [Category(Needs.Training)]
    [Test]
    public void AnImbalancedRgbImageFolderTrainsWithFullAugmentationClassWeightsAndFocalLoss()
    {
        // Reddish and bluish noisy JPEGs, 3:1 imbalanced, in an ImageFolder tree.
        using var dir = new TempDir();
        var rng = new Random(5);
        foreach (var (cls, n, r, b) in new[] { ("red", 90, 200, 60), ("blue", 30, 60, 200) })
        {
            Directory.CreateDirectory(Path.Combine(dir.Path, "data", cls));
            for (var i = 0; i < n; i++)
            {
                var rgba = new byte[40 * 30 * 4];
                for (var p = 0; p < 40 * 30; p++)
                {
                    rgba[4 * p] = (byte)Math.Clamp(r + rng.Next(-60, 60), 0, 255);
                    rgba[4 * p + 1] = (byte)rng.Next(40, 160);
                    rgba[4 * p + 2] = (byte)Math.Clamp(b + rng.Next(-60, 60), 0, 255);
                    rgba[4 * p + 3] = 255;
                }
                File.WriteAllBytes(Path.Combine(dir.Path, "data", cls, $"{i:000}.jpg"), TestImages.Jpeg(rgba, 40, 30, 90));
            }
        }
        var options = new TrainOptions
        {
            Data = Path.Combine(dir.Path, "data"), ValFraction = 0.25, Epochs = 4, BatchSize = 16, LearningRate = 0.01,
            Optimizer = "adamw", WeightDecay = 0.01, Balance = Balancing.Weights, Loss = "focal", Resize = "center-crop",
            Arch = new ArchSpec { Arch = "resnet20", Width = 0.5, InputSize = 32, Channels = 3, Classes = 2 },
            Color = "rgb", Augmentation = AugmentationOptions.Default, Seed = 3, Threads = 2, Workers = 2,
        };
        var run = new RunFolder(dir.File("run"));
        var result = new Trainer(options, run, new RecordingProgress()).Run(resume: false);
        TestContext.Out.WriteLine(File.ReadAllText(run.Metrics));
        Assert.That(result.TrainImages, Is.EqualTo(90));
        Assert.That(result.Epochs[^1].TrainLoss, Is.LessThan(result.Epochs[0].TrainLoss));
        var report = CheckpointEvaluator.Evaluate(run.Best, new FolderImageSet(options.Data), [.. Enumerable.Range(0, 120)], 1, 0);
        TestContext.Out.WriteLine($"rgb folder: top-1 {report.Top1:0.0}%, blue recall {report.PerClass[0].Recall:0.00}");
        Assert.That(report.Labels, Is.EqualTo(new[] { "blue", "red" }));
        Assert.That(report.Top1, Is.GreaterThan(90));
        Assert.That(report.PerClass[0].Recall, Is.GreaterThan(0.8), "the minority class is learned too");
        var state = Checkpoint.ReadState(run.Best);
        Assert.That((state.Color, state.Resize, state.Mean.Length), Is.EqualTo(("rgb", "center-crop", 3)));
    }

    [Category(Needs.Training)]
    [Category(Needs.FashionMnist)]
    [Test]
    public void ResumeFromACheckpointReproducesTheNextStepLoss()
    {
        using var dir = new TempDir();
        var straight = new RunFolder(dir.File("straight"));
        new Trainer(Tiny(epochs: 2), straight, new RecordingProgress()).Run(resume: false);

        var split = new RunFolder(dir.File("split"));
        var perEpoch = Steps(straight).Count(s => s.Epoch == 1);
        new Trainer(Tiny(epochs: 2) with { MaxSteps = perEpoch }, split, new RecordingProgress()).Run(resume: false);
        Assert.That(Steps(split).Max(s => s.Epoch), Is.EqualTo(1));
        new Trainer(Tiny(epochs: 2), split, new RecordingProgress()).Run(resume: true);

        var a = Steps(straight).Where(s => s.Epoch == 2).ToList();
        var b = Steps(split).Where(s => s.Epoch == 2).ToList();
        Assert.That(b[0].Step, Is.EqualTo(a[0].Step));
        Assert.That(b[0].Loss, Is.EqualTo(a[0].Loss).Within(1e-5), "first step after resuming");
        Assert.That(b[^1].Loss, Is.EqualTo(a[^1].Loss).Within(1e-3), "and the epoch continues the same way");
    }

    [Category(Needs.Training)]
    [Category(Needs.FashionMnist)]
    [Test]
    public void ACheckpointOfAnotherArchitectureIsRefused()
    {
        using var dir = new TempDir();
        var run = new RunFolder(dir.File("run"));
        new Trainer(Tiny(epochs: 1) with { MaxSteps = 2 }, run, new RecordingProgress()).Run(resume: false);
        Assert.That(() => new Trainer(Tiny("mobilenetv2", epochs: 2), run, new RecordingProgress()).Run(resume: true),
            Throws.TypeOf<CheckpointException>().With.Message.Contains("holds a resnet20-0.25 16x16x1").And.Message.Contains("not the requested mobilenetv2-0.25"));
        using var other = Architectures.Create(Tiny().Arch with { Width = 0.5 });
        Assert.That(() => Checkpoint.LoadWeights(run.Last, other, Checkpoint.ReadState(run.Last)),
            Throws.TypeOf<CheckpointException>().With.Message.Contains("resnet20-0.5"));
        Assert.That(() => new Trainer(Tiny(), new RunFolder(dir.File("nothing")), new RecordingProgress()).Run(resume: true),
            Throws.TypeOf<CheckpointException>().With.Message.Contains("no checkpoint to resume"));
    }

    [Test]
    public void ParityCheckCatchesAWrongGraph()
    {
        TorchSharp.torch.manual_seed(3);
        var spec = new ArchSpec { Arch = "resnet20", Width = 0.25, InputSize = 16, Channels = 1, Classes = 10 };
        using var net = Architectures.Create(spec);
        var info = new ExportInfo([.. Enumerable.Range(0, 10).Select(i => $"c{i}")],
            new Edge.Onnx.Metadata.PreprocessingSpec { Width = 16, Height = 16, Color = Edge.Onnx.Metadata.ColorOrder.Gray, Resize = Edge.Onnx.Metadata.ResizeMode.Squash, Mean = [0.3f], Std = [0.3f] },
            "test", null);
        var model = ModelExporter.ToOnnx(net, info);
        var rng = new Random(1);
        var images = Enumerable.Range(0, 8 * 256).Select(_ => (float)rng.NextDouble()).ToArray();
        Assert.That(ModelExporter.CheckParity(net, model, images, 8).Passed);

        // A bias nudged by 1e-3 in the last layer: the check must notice.
        var bias = model.Graph.Initializer.Single(t => t.Name == "fc.bias");
        var values = TensorData.ToFloats(bias);
        values[3] += 1e-3f;
        model.Graph.Initializer[model.Graph.Initializer.IndexOf(bias)] = TensorData.FromFloats(bias.Name, values, [.. bias.Dims]);
        var parity = ModelExporter.CheckParity(net, model, images, 8);
        Assert.That(parity.Passed, Is.False);
        Assert.That(parity.MaxAbsDiff, Is.EqualTo(1e-3).Within(1e-5));
    }
}
