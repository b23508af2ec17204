using System.IO.Compression;
using Edge.Host.Datasets;
using Edge.Core.Imaging;

namespace Edge.Host.Tests;

/// <summary>Fashion-MNIST against NumPy reading the same files, gzipped truncation and seeded sampling (the rest of the data set rules: DatasetTests).</summary>
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
    public void ATruncatedIdxFileIsRefused()
    {
        using var dir = new TempDir();
        // Header promises 2 images of 2x2, gzipped, with only 5 pixels.
        using (var gz = new GZipStream(File.Create(dir.File("t.gz")), CompressionLevel.Fastest))
            gz.Write([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5]);
        Assert.That(() => IdxFile.Read(dir.File("t.gz")), Throws.TypeOf<DatasetException>().With.Message.Contains("promises 8 values but the file holds 5"));
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
