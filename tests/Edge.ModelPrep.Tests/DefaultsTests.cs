using System.Text.Json;
using Edge.Host.Datasets;
using Edge.Core.Imaging;
using Edge.ModelPrep.Commands;
using Edge.ModelPrep.Training;

namespace Edge.ModelPrep.Tests;

/// <summary>What edge-prep chooses when the user chooses nothing, and what a pretrained start is worth.</summary>
[NonParallelizable]
public class DefaultsTests
{
    /// <summary>Two class folders of images of the given sizes (PNG headers are all that is read).</summary>
    private static FolderImageSet Folder(TempDir dir, params (int W, int H)[] sizes)
    {
        var root = dir.File("sizes");
        for (var i = 0; i < sizes.Length; i++)
        {
            var cls = Path.Combine(root, i % 2 == 0 ? "a" : "b");
            Directory.CreateDirectory(cls);
            var (w, h) = sizes[i];
            File.WriteAllBytes(Path.Combine(cls, $"{i}.png"), TestImages.Png(TestImages.Solid(w, h, 90, 120, 150), w, h));
        }
        return new FolderImageSet(root);
    }

    [TestCase(300, 200, true, 192, TestName = "InputSize: 300x200 photos give 192 (median shorter side 200, to a multiple of 32)")]
    [TestCase(1024, 768, true, 224, TestName = "InputSize: large photos are capped at 224")]
    [TestCase(40, 40, true, 64, TestName = "InputSize: tiny images give 64 from a pretrained start")]
    [TestCase(40, 40, false, 32, TestName = "InputSize: tiny images give 32 from scratch")]
    [TestCase(96, 96, true, 96, TestName = "InputSize: 96x96 stays 96")]
    public void TheInputSizeComesFromTheImages(int width, int height, bool pretrained, int expected)
    {
        using var dir = new TempDir();
        var set = Folder(dir, [.. Enumerable.Repeat((width, height), 6)]);
        var progress = new RecordingProgress();
        Assert.That(TrainCommands.InputSizeFor(set, pretrained, progress), Is.EqualTo(expected));
        Assert.That(progress.Lines.Single(), Does.StartWith($"input size {expected} (from the images: median shorter side {Math.Min(width, height)} pixels over 6"));
    }

    [Test]
    public void TheInputSizeFollowsTheMedianNotTheOutliers()
    {
        using var dir = new TempDir();
        // Shorter sides 90, 100, 100, 110, 2000: the median is 100, rounded to 96; a mean would be 480.
        var set = Folder(dir, (120, 90), (100, 100), (100, 140), (110, 300), (3000, 2000));
        Assert.That(TrainCommands.InputSizeFor(set, pretrained: true, new RecordingProgress()), Is.EqualTo(96));
    }

    [TestCase(20, 8, 3)]
    [TestCase(90, 8, 12)]
    [TestCase(400, 16, 25)]
    [TestCase(900, 32, 29)]
    [TestCase(1500, 32, 47)]
    [TestCase(5000, 64, 79)]
    [TestCase(50000, 64, 782)]
    public void TheBatchGivesASmallSetEnoughSteps(int trainImages, int batch, int stepsPerEpoch)
    {
        var progress = new RecordingProgress();
        Assert.That(TrainCommands.BatchFor(trainImages, progress), Is.EqualTo(batch));
        Assert.That(progress.Lines.Single(), Does.StartWith($"batch {batch} ({stepsPerEpoch} steps an epoch for {trainImages} training images"));
    }

    [Test]
    public void AStrayFileAtTheRootIsSkippedWithAWarning()
    {
        using var dir = new TempDir();
        var root = dir.File("photos");
        foreach (var cls in new[] { "cat", "dog" })
        {
            Directory.CreateDirectory(Path.Combine(root, cls));
            for (var i = 0; i < 2; i++) File.WriteAllBytes(Path.Combine(root, cls, $"{i}.png"), TestImages.Png(TestImages.Pattern(8, 8, i), 8, 8));
        }
        File.WriteAllBytes(Path.Combine(root, "IMG_0001.jpg"), TestImages.SolidJpeg(8, 8, 1, 2, 3));
        var set = new FolderImageSet(root);
        Assert.That(set.Classes, Is.EqualTo(new[] { "cat", "dog" }));
        Assert.That(set.Count, Is.EqualTo(4));
        Assert.That(set.Warnings.Single(), Does.Contain("skipped 1 image(s) at the top of").And.Contain("IMG_0001.jpg"));
    }

    [Test]
    public void ClassNamesAreMatchedTheSameWayEverywhere()
    {
        // Exact names, case included; numbered classes by number.
        Assert.That(LabelMatcher.Map(["bag", "coat"], ["coat", "bag", "shirt"]), Is.EqualTo(new[] { 1, 0 }));
        Assert.That(LabelMatcher.Map(["2", "0", "1"], ["T-shirt", "Trouser", "Pullover"]), Is.EqualTo(new[] { 2, 0, 1 }));
        // Not by number when the counts differ: two folders "0" and "1" against a 512-wide feature output.
        Assert.That(() => LabelMatcher.Map(["0", "1"], [.. Enumerable.Range(100, 512).Select(i => $"f{i}")]), Throws.TypeOf<DatasetException>());
        Assert.That(() => LabelMatcher.Map(["Bag"], ["bag"]), Throws.TypeOf<DatasetException>().With.Message.Contains("'Bag' is not one of the model's labels"));
    }

    /// <summary>Fashion-MNIST images as a small photo folder: 3-channel JPEGs upscaled 2x (56x56), <paramref name="perClass"/> per class.</summary>
    private static string FashionFolder(string root, int perClass, int offset)
    {
        var test = IdxImageSet.FashionMnist("test");
        var taken = new int[10];
        using var decoder = new ImageDecoder();
        using var pixels = new PixelBuffer();
        for (var i = 0; i < test.Count; i++)
        {
            var label = test.Label(i);
            if (taken[label]++ < offset || taken[label] > offset + perClass) continue;
            test.Load(i, decoder, pixels, default);
            var view = pixels.View;
            var rgba = new byte[56 * 56 * 4];
            for (var y = 0; y < 56; y++)
                for (var x = 0; x < 56; x++)
                {
                    var v = view.Row(y / 2)[4 * (x / 2)];
                    rgba[4 * (y * 56 + x)] = rgba[4 * (y * 56 + x) + 1] = rgba[4 * (y * 56 + x) + 2] = v;
                    rgba[4 * (y * 56 + x) + 3] = 255;
                }
            var dir = Path.Combine(root, test.Classes![label].Replace('/', '-'));
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, $"{i:00000}.jpg"), TestImages.Jpeg(rgba, 56, 56, 90));
            if (taken.All(t => t >= offset + perClass)) break;
        }
        return root;
    }

    [Category(Needs.Training)]
    [Category(Needs.FashionMnist)]
    /// <summary>
    /// 500 photos, 3 epochs, no other flag: the ImageNet start beats the same command from scratch on 300
    /// held-out photos, and the memory estimate made before the first step is within its stated margin of
    /// the peak that followed.
    /// </summary>
    [Test]
    public void AShortRunFromPretrainedWeightsBeatsTheSameRunFromScratch()
    {
        using var dir = new TempDir();
        var train = FashionFolder(dir.File("train"), 50, 0);
        var test = FashionFolder(dir.File("test"), 30, 50);
        double Run(string name, params string[] extra)
        {
            var r = EdgePrep.Run(["train", "--data", train, "--test-data", test, "--epochs", "3", "--out", dir.File(name), "--json", .. extra]);
            Assert.That(r.Code, Is.Zero, r.Err);
            using var summary = JsonDocument.Parse(r.Out);
            var top1 = summary.RootElement.GetProperty("test").GetProperty("top1").GetDouble();
            var memory = summary.RootElement.GetProperty("memory");
            var estimate = memory.GetProperty("estimate_mib").GetDouble();
            var peak = memory.GetProperty("peak_rss_mib").GetDouble();
            TestContext.Out.WriteLine($"{name}: test top-1 {top1:0.0}%, memory estimate {estimate:0} MiB, peak {peak:0} MiB ({peak / estimate:0.00}x)");
            // The default path (a pretrained start) is held to the stated margin; the scratch run's peak moves with
            // what else runs on the machine (up to 1.7x its estimate beside other tests), so it is only reported.
            if (extra.Length == 0) Assert.That(peak / estimate, Is.InRange(0.7, 1.35), "the estimate's stated margin (MemoryEstimate.EstimateMib)");
            Assert.That(r.Err, Does.Contain("input size 64 (from the images: median shorter side 56").Or.Contain("input size 64"));
            return top1;
        }
        var pretrained = Run("pretrained");
        var scratch = Run("scratch", "--pretrained", "none", "--arch", "resnet18");
        Assert.That(pretrained, Is.GreaterThan(scratch + 10), "an ImageNet start is worth much on 450 training images");
        Assert.That(pretrained, Is.GreaterThan(50), "chance is 10%");
    }

    [Category(Needs.Training)]
    [Category(Needs.FashionMnist)]
    [Test]
    public void ABatchThatCannotFitIsRefusedBeforeTheFirstStep()
    {
        using var dir = new TempDir();
        var train = FashionFolder(dir.File("train"), 4, 0);
        var run = dir.File("run");
        var r = EdgePrep.Run("train", "--data", train, "--epochs", "1", "--batch-size", "32", "--max-memory", "200", "--out", run);
        Assert.That(r.Code, Is.EqualTo(1));
        var line = r.Err.Trim().Split('\n')[^1];
        Assert.That(line, Does.StartWith("edge-prep: error: batch 32 of resnet18").And.Contain("more than --max-memory 200 MiB").And.Not.Contain("or set --max-memory"));
        Assert.That(File.Exists(Path.Combine(run, "steps.csv")) && File.ReadLines(Path.Combine(run, "steps.csv")).Count() > 1, Is.False, "no step ran");
        Assert.That(Directory.Exists(Path.Combine(run, "checkpoints", "last")), Is.False);

        // Chosen by edge-prep instead of asked for, the batch is halved until it fits, and that is said.
        r = EdgePrep.Run("train", "--data", train, "--epochs", "1", "--max-memory", "200", "--out", dir.File("auto"));
        Assert.That(r.Code, Is.EqualTo(1), "200 MiB is below what the network itself takes");
        Assert.That(r.Err, Does.Contain("use a smaller --input-size or --width"));
    }
}
