using Edge.Core.Imaging;

namespace Edge.Host.Datasets;

/// <summary>An IDX image file (28x28 gray for Fashion-MNIST) with its labels file when there is one.</summary>
public sealed class IdxImageSet : ImageSet
{
    public const string FashionMnistFolder = "/usr/share/datasets/fashion-mnist";
    public static readonly string[] FashionMnistClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private readonly byte[] _pixels;
    private readonly byte[]? _labels;
    private readonly int _rows, _cols;

    public IdxImageSet(string imagesPath, string? labelsPath, IReadOnlyList<string>? classes = null)
    {
        var (dims, data) = IdxFile.Read(imagesPath);
        if (dims.Length != 3) throw new DatasetException($"'{imagesPath}' holds a rank-{dims.Length} tensor; images are [count, rows, cols]");
        (Count, _rows, _cols) = (dims[0], dims[1], dims[2]);
        _pixels = data;
        Name = imagesPath;
        if (labelsPath is not null)
        {
            var (ldims, ldata) = IdxFile.Read(labelsPath);
            if (ldims.Length != 1 || ldims[0] != Count)
                throw new DatasetException($"'{labelsPath}' has {string.Join("x", ldims)} labels for {Count} images");
            var classCount = classes?.Count ?? ldata.Max() + 1;
            for (var i = 0; i < ldata.Length; i++)
                if (ldata[i] >= classCount)
                    throw new DatasetException($"'{labelsPath}': label {ldata[i]} of image {i} is out of range (0..{classCount - 1})");
            _labels = ldata;
            Classes = classes ?? [.. Enumerable.Range(0, classCount).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        }
    }

    /// <summary>Fashion-MNIST from Debian's dataset-fashion-mnist package: "train" or "test" (t10k).</summary>
    public static IdxImageSet FashionMnist(string split, string folder = FashionMnistFolder)
    {
        var prefix = split is "test" or "t10k" ? "t10k" : "train";
        var images = Path.Combine(folder, $"{prefix}-images-idx3-ubyte.gz");
        if (!File.Exists(images))
            throw new DatasetException($"Fashion-MNIST is not installed at {folder} (apt-get install dataset-fashion-mnist)");
        return new IdxImageSet(images, Path.Combine(folder, $"{prefix}-labels-idx1-ubyte.gz"), FashionMnistClasses);
    }

    public override string Name { get; }
    public override int Count { get; }
    public override IReadOnlyList<string>? Classes { get; }
    public override int Label(int index) => _labels is null ? -1 : _labels[index];
    public override string Describe(int index) => $"{Path.GetFileName(Name)}[{index}]";

    public override (int Width, int Height)? Size(int index) => (_cols, _rows);

    public override void Load(int index, ImageDecoder decoder, PixelBuffer pixels, ScaleHint hint)
    {
        pixels.Reset(_cols, _rows);
        var src = _pixels.AsSpan(index * _rows * _cols, _rows * _cols);
        var dst = pixels.Span;
        for (var i = 0; i < src.Length; i++)
        {
            var v = src[i];
            dst[4 * i] = v;
            dst[4 * i + 1] = v;
            dst[4 * i + 2] = v;
            dst[4 * i + 3] = 255;
        }
    }
}
