using System.IO.Compression;
using Edge.Host.Datasets;
using Edge.Core.Imaging;

namespace Edge.Host.Tests;

public class IdxDatasetTests
{
    [Category(Needs.FashionMnist), Category(Needs.Python)]
    [Test]
    public void FashionMnistIdxFilesParseToTheirKnownContents()
    {
        var train = IdxImageSet.FashionMnist("train");
        var test = IdxImageSet.FashionMnist("test");
        Assert.That(train.Count, Is.EqualTo(60_000));
        Assert.That(test.Count, Is.EqualTo(10_000));
        // The first training labels of Fashion-MNIST: ankle boot, T-shirt, T-shirt, dress, T-shirt, pullover, sneaker.
        Assert.That(Enumerable.Range(0, 7).Select(train.Label), Is.EqualTo(new[] { 9, 0, 0, 3, 0, 2, 7 }));
        Assert.That(Enumerable.Range(0, 5).Select(test.Label), Is.EqualTo(new[] { 9, 2, 1, 1, 6 }));
        // Pixel sum of the first training image, from the raw file by NumPy.
        var expected = long.Parse(Python.Run("""
            import gzip, numpy as np
            d = gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()
            print(int(np.frombuffer(d, dtype=np.uint8, offset=16)[:784].astype(np.int64).sum()))
            """).Trim());
        using var decoder = new ImageDecoder();
        using var pixels = new PixelBuffer();
        train.Load(0, decoder, pixels, default);
        Assert.That((pixels.Width, pixels.Height), Is.EqualTo((28, 28)));
        long sum = 0;
        var span = pixels.Span;
        for (var i = 0; i < span.Length; i += 4) sum += span[i];
        Assert.That(sum, Is.EqualTo(expected));
        Assert.That(train.Classes![9], Is.EqualTo("Ankle boot"));
    }

    [Test]
    public void AFileWithTheWrongMagicIsRefused()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("x.idx"), [0, 0, 0x0D, 3, 0, 0, 0, 1]);
        Assert.That(() => IdxFile.Read(dir.File("x.idx")), Throws.TypeOf<DatasetException>().With.Message.Contains("magic is 00000D03"));
    }

    [Test]
    public void ATruncatedIdxFileIsRefused()
    {
        using var dir = new TempDir();
        // Header promises 2 images of 2x2, gzipped, with only 5 pixels.
        using (var gz = new GZipStream(File.Create(dir.File("t.gz")), CompressionLevel.Fastest))
            gz.Write([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5]);
        Assert.That(() => IdxFile.Read(dir.File("t.gz")), Throws.TypeOf<DatasetException>().With.Message.Contains("promises 8 values but the file holds 5"));
    }

    [Test]
    public void AnOutOfRangeLabelIsRefused()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("i"), [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7, 9]);
        File.WriteAllBytes(dir.File("l"), [0, 0, 8, 1, 0, 0, 0, 2, 3, 12]);
        Assert.That(() => new IdxImageSet(dir.File("i"), dir.File("l"), IdxImageSet.FashionMnistClasses),
            Throws.TypeOf<DatasetException>().With.Message.Contains("label 12 of image 1 is out of range (0..9)"));
    }

    [Test]
    public void AnImageFolderTreeIsLabelledByFolderInOrdinalOrder()
    {
        using var dir = new TempDir();
        foreach (var cls in new[] { "dog", "Cat", "bird" })
        {
            Directory.CreateDirectory(dir.File(cls));
            File.WriteAllBytes(Path.Combine(dir.File(cls), "a.png"), TestImages.Png(TestImages.Solid(4, 4, 1, 2, 3), 4, 4));
        }
        Directory.CreateDirectory(dir.File("empty"));
        var set = new FolderImageSet(dir.Path);
        Assert.That(set.Classes, Is.EqualTo(new[] { "Cat", "bird", "dog" }));
        Assert.That(Enumerable.Range(0, 3).Select(set.Label), Is.EqualTo(new[] { 0, 1, 2 }));
    }

    [Test]
    public void AnEmptyFolderIsRefused()
    {
        using var dir = new TempDir();
        Assert.That(() => new FolderImageSet(dir.Path), Throws.TypeOf<DatasetException>().With.Message.Contains("no images"));
    }

    [Category(Needs.FashionMnist)]
    [Test]
    public void SamplingIsSeededAndSpread()
    {
        var set = IdxImageSet.FashionMnist("test");
        var a = set.Sample(100, seed: 1);
        Assert.That(a, Is.EqualTo(set.Sample(100, seed: 1)));
        Assert.That(a, Is.Unique.And.Ordered);
        Assert.That(a.Max(), Is.GreaterThan(5000), "spread over the set, not its first images");
    }
}
