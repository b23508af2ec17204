using Edge.Host.Datasets;
using Edge.ModelPrep.Data;
using Edge.Onnx.Metadata;

namespace Edge.ModelPrep.Tests;

public class DataTests
{
    private static readonly PreprocessingSpec Gray16 = new()
    {
        Width = 16, Height = 16, Color = ColorOrder.Gray, Resize = ResizeMode.Squash, Mean = [0f], Std = [1f],
    };

    private static float[] Image(int channels, int size, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, channels * size * size).Select(_ => (float)rng.NextDouble())];
    }

    [Test]
    public void AugmentationRepeatsUnderTheSameSeedAndVariesAcrossEpochs()
    {
        var src = Image(3, 24, 1);
        float[] Run(int seed, int epoch, int index)
        {
            var dst = new float[src.Length];
            var rng = new Random(Augmenter.SampleSeed(seed, epoch, index));
            Augmenter.Apply(AugmentationOptions.Default, rng, src, dst, 3, 24);
            Augmenter.Erase(AugmentationOptions.Default with { Erasing = 1 }, rng, dst, 3, 24);
            return dst;
        }
        Assert.That(Run(5, 2, 17), Is.EqualTo(Run(5, 2, 17)));
        Assert.That(Run(5, 3, 17), Is.Not.EqualTo(Run(5, 2, 17)));
        Assert.That(Run(6, 2, 17), Is.Not.EqualTo(Run(5, 2, 17)));
        Assert.That(Run(5, 2, 17), Has.All.InRange(0f, 1f));
    }

    [Test]
    public void NoAugmentationIsTheIdentityAndAFlipIsAnExactMirror()
    {
        const int size = 9;
        var src = Image(1, size, 2);
        var dst = new float[src.Length];
        Augmenter.Apply(AugmentationOptions.None, new Random(0), src, dst, 1, size);
        Assert.That(dst, Is.EqualTo(src));

        var flipOnly = AugmentationOptions.None with { HorizontalFlip = true };
        var mirror = new float[src.Length];
        for (var y = 0; y < size; y++)
            for (var x = 0; x < size; x++)
                mirror[y * size + x] = src[y * size + size - 1 - x];
        var flipped = 0;
        for (var seed = 0; seed < 20; seed++)
        {
            Augmenter.Apply(flipOnly, new Random(seed), src, dst, 1, size);
            if (dst.SequenceEqual(src)) continue;
            Assert.That(dst, Is.EqualTo(mirror).Within(1e-6f));
            flipped++;
        }
        Assert.That(flipped, Is.InRange(4, 16), "about half of the draws flip");
    }

    [Test]
    public void ImageFolderSkipsAndReportsUnreadableImages()
    {
        using var dir = new TempDir();
        foreach (var cls in new[] { "cat", "dog" })
        {
            Directory.CreateDirectory(Path.Combine(dir.Path, cls));
            for (var i = 0; i < 3; i++)
                File.WriteAllBytes(Path.Combine(dir.Path, cls, $"{i}.jpg"), TestImages.Jpeg(TestImages.Pattern(40, 30, i), 40, 30));
        }
        File.WriteAllBytes(Path.Combine(dir.Path, "dog", "broken.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
        File.WriteAllBytes(Path.Combine(dir.Path, "cat", "empty.png"), []);
        var set = TensorImageSet.Build(new FolderImageSet(dir.Path), Gray16 with { Color = ColorOrder.Rgb, Mean = [0, 0, 0], Std = [1, 1, 1] });
        Assert.That(set.Count, Is.EqualTo(6));
        Assert.That(set.Skipped.Select(s => Path.GetFileName(s.Image)), Is.EquivalentTo(new[] { "broken.jpg", "empty.png" }));
        Assert.That(set.Skipped, Has.All.Matches<SkippedImage>(s => s.Reason.Length > 0));
        Assert.That(set.ClassCounts(), Is.EqualTo(new[] { 3, 3 }));
        var pixels = new float[set.ImageLength];
        set.CopyImage(0, pixels);
        Assert.That(pixels, Has.All.InRange(0f, 1f));
    }

    [Test]
    public void SingleClassUnlabelledAndUnreadableFoldersAreRefused()
    {
        using var dir = new TempDir();
        var one = Directory.CreateDirectory(Path.Combine(dir.Path, "one", "only")).FullName;
        File.WriteAllBytes(Path.Combine(one, "a.png"), TestImages.Png(TestImages.Pattern(8, 8), 8, 8));
        Assert.That(() => TensorImageSet.Build(new FolderImageSet(Path.GetDirectoryName(one)!), Gray16),
            Throws.TypeOf<DatasetException>().With.Message.Contains("at least 2"));

        var flat = Directory.CreateDirectory(Path.Combine(dir.Path, "flat")).FullName;
        File.WriteAllBytes(Path.Combine(flat, "a.png"), TestImages.Png(TestImages.Pattern(8, 8), 8, 8));
        Assert.That(() => TensorImageSet.Build(new FolderImageSet(flat), Gray16),
            Throws.TypeOf<DatasetException>().With.Message.Contains("no class folders"));

        var bad = Path.Combine(dir.Path, "bad");
        foreach (var cls in new[] { "a", "b" })
        {
            Directory.CreateDirectory(Path.Combine(bad, cls));
            File.WriteAllText(Path.Combine(bad, cls, "x.jpg"), "not a jpeg");
        }
        Assert.That(() => TensorImageSet.Build(new FolderImageSet(bad), Gray16),
            Throws.TypeOf<DatasetException>().With.Message.Contains("none of the 2 images"));

        // One class readable, the other not: still a single class.
        File.WriteAllBytes(Path.Combine(bad, "a", "ok.png"), TestImages.Png(TestImages.Pattern(8, 8), 8, 8));
        Assert.That(() => TensorImageSet.Build(new FolderImageSet(bad), Gray16),
            Throws.TypeOf<DatasetException>().With.Message.Contains("only 1 class"));
    }

    [Category(Needs.FashionMnist)]
    [Test]
    public void SplitIsStratifiedSeededAndDisjoint()
    {
        var set = TensorImageSet.Build(IdxImageSet.FashionMnist("test"), Gray16, subset: [.. Enumerable.Range(0, 2000)]);
        var (train, val) = set.Split(0.2, seed: 3);
        Assert.That(train.Intersect(val), Is.Empty);
        Assert.That(train.Length + val.Length, Is.EqualTo(2000));
        var (train2, val2) = set.Split(0.2, seed: 3);
        Assert.That(val2, Is.EqualTo(val));
        foreach (var c in Enumerable.Range(0, 10))
        {
            var total = Enumerable.Range(0, set.Count).Count(i => set.Label(i) == c);
            var inVal = val.Count(i => set.Label(i) == c);
            Assert.That(inVal, Is.EqualTo((int)Math.Round(total * 0.2)).Within(1), $"class {c}");
        }
        Assert.That(set.Split(0.2, seed: 4).Validation, Is.Not.EqualTo(val));
    }

    [Category(Needs.FashionMnist)]
    [Test]
    public void BalancedSamplerDrawsClassesEvenly()
    {
        // 90% of the images are class 0: the sampler still gives every class about the same share.
        var set = TensorImageSet.Build(IdxImageSet.FashionMnist("test"), Gray16, subset: [.. Enumerable.Range(0, 3000)]);
        var idx = Enumerable.Range(0, set.Count).Where(i => set.Label(i) == 0).Concat(Enumerable.Range(0, set.Count).Where(i => set.Label(i) == 1).Take(30)).ToArray();
        var loader = new BatchLoader(set, idx, 64, AugmentationOptions.None, [0f], [1f], seed: 1, shuffle: true, Balancing.Sampler);
        var order = loader.Order(0);
        var share = order.Count(i => set.Label(i) == 1) / (double)order.Length;
        Assert.That(share, Is.InRange(0.4, 0.6));
        Assert.That(loader.Order(0), Is.EqualTo(order), "seeded");
    }
}
