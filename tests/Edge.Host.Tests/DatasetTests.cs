using System.IO.Compression;
using Edge.Host.Datasets;
using Edge.Core.Imaging;

namespace Edge.Host.Tests;

public class DatasetTests
{
    // Expected values read from the same files by NumPy (np.frombuffer with the IDX offsets).
    [Category(Needs.FashionMnist)]
    [Test]
    public void FashionMnistMatchesAnIndependentReader()
    {
        var train = IdxImageSet.FashionMnist("train");
        Assert.That(train.Count, Is.EqualTo(60000));
        Assert.That(Enumerable.Range(0, 10).Select(train.Label), Is.EqualTo(new[] { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5 }));
        Assert.That(PixelSum(train, 0), Is.EqualTo(76247));
        Assert.That(PixelSum(train, 59999), Is.EqualTo(16684));
        var test = IdxImageSet.FashionMnist("test");
        Assert.That(test.Count, Is.EqualTo(10000));
        Assert.That(Enumerable.Range(0, 10).Select(test.Label), Is.EqualTo(new[] { 9, 2, 1, 1, 6, 1, 4, 6, 5, 7 }));
        Assert.That(Enumerable.Range(0, test.Count).GroupBy(test.Label).Select(g => g.Count()), Is.All.EqualTo(1000));
        Assert.That(test.Classes![9], Is.EqualTo("Ankle boot"));
    }

    private static long PixelSum(ImageSet set, int index)
    {
        using var pixels = new PixelBuffer();
        using var decoder = new ImageDecoder();
        set.Load(index, decoder, pixels, default);
        Assert.That((pixels.Width, pixels.Height), Is.EqualTo((28, 28)));
        long sum = 0;
        var span = pixels.Span;
        for (var i = 0; i < span.Length; i += 4) sum += span[i];
        return sum;
    }

    private static byte[] Idx(byte type, int[] dims, byte[] data)
    {
        var header = new List<byte> { 0, 0, type, (byte)dims.Length };
        foreach (var d in dims) header.AddRange([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        return [.. header, .. data];
    }

    [Test]
    public void IdxErrorsSayWhatIsWrong()
    {
        using var dir = new TempDir();
        var wrongMagic = dir.File("wrong-magic");
        File.WriteAllBytes(wrongMagic, [0x1F, 0x00, 0x08, 0x03, 0, 0, 0, 1]);
        Assert.That(() => IdxFile.Read(wrongMagic), Throws.TypeOf<DatasetException>().With.Message.Contains("magic is 1F000803"));

        var floats = dir.File("floats");
        File.WriteAllBytes(floats, Idx(0x0D, [1], [0, 0, 0, 0]));
        Assert.That(() => IdxFile.Read(floats), Throws.TypeOf<DatasetException>().With.Message.Contains("not an IDX file of unsigned bytes"));

        var truncated = dir.File("truncated");
        File.WriteAllBytes(truncated, Idx(0x08, [2, 2, 2], [1, 2, 3]));
        Assert.That(() => IdxFile.Read(truncated), Throws.TypeOf<DatasetException>().With.Message.Contains("promises 8 values but the file holds 3"));

        // Gzipped files are read the same way; a label beyond the class list is refused with its index.
        var images = dir.File("x-images-idx3-ubyte.gz");
        using (var gz = new GZipStream(File.Create(images), CompressionLevel.Fastest)) gz.Write(Idx(0x08, [2, 2, 2], new byte[8]));
        var labels = dir.File("x-labels-idx1-ubyte");
        File.WriteAllBytes(labels, Idx(0x08, [2], [1, 12]));
        Assert.That(() => new IdxImageSet(images, labels, IdxImageSet.FashionMnistClasses),
            Throws.TypeOf<DatasetException>().With.Message.Contains("label 12 of image 1 is out of range (0..9)"));
        var mismatched = dir.File("m-labels-idx1-ubyte");
        File.WriteAllBytes(mismatched, Idx(0x08, [3], [1, 1, 1]));
        Assert.That(() => new IdxImageSet(images, mismatched), Throws.TypeOf<DatasetException>().With.Message.Contains("3 labels for 2 images"));
    }

    [Test]
    public void ImageFolderClassesAreSubfoldersInOrdinalOrder()
    {
        using var dir = new TempDir();
        foreach (var (cls, n) in new[] { ("zebra", 2), ("Apple", 1), ("mango", 3), (".hidden", 4), ("empty", 0) })
        {
            Directory.CreateDirectory(Path.Combine(dir.Path, cls));
            for (var i = 0; i < n; i++) File.WriteAllBytes(Path.Combine(dir.Path, cls, $"{i}.png"), TestImages.Png(TestImages.Pattern(8, 8), 8, 8));
        }
        File.WriteAllText(Path.Combine(dir.Path, "mango", "notes.txt"), "not an image");
        var set = new FolderImageSet(dir.Path);
        Assert.That(set.Classes, Is.EqualTo(new[] { "Apple", "mango", "zebra" }), "ordinal order, hidden and empty folders left out");
        Assert.That(set.Count, Is.EqualTo(6));
        Assert.That(Enumerable.Range(0, set.Count).Select(set.Label), Is.EqualTo(new[] { 0, 1, 1, 1, 2, 2 }));
        Assert.That(set.Describe(0), Does.EndWith("Apple/0.png"));
    }

    [Test]
    public void EmptyFolderIsRefused()
    {
        using var dir = new TempDir();
        Assert.That(() => new FolderImageSet(dir.Path), Throws.TypeOf<DatasetException>().With.Message.Contains("no images"));
        Assert.That(() => new FolderImageSet(Path.Combine(dir.Path, "missing")), Throws.TypeOf<DatasetException>().With.Message.Contains("does not exist"));
    }
}
