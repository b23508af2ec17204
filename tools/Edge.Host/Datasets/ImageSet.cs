using Edge.Core.Imaging;

namespace Edge.Host.Datasets;

/// <summary>A numbered collection of images, optionally labelled, that loads one image at a time.</summary>
public abstract class ImageSet
{
    public abstract string Name { get; }
    public abstract int Count { get; }
    /// <summary>Class names when the set is labelled (index = label), else null.</summary>
    public abstract IReadOnlyList<string>? Classes { get; }
    /// <summary>The label of image <paramref name="index"/>, or -1 when unlabelled.</summary>
    public abstract int Label(int index);
    /// <summary>A description of image <paramref name="index"/> for messages (its path, or its number).</summary>
    public abstract string Describe(int index);
    /// <summary>Decodes image <paramref name="index"/> into <paramref name="pixels"/>; throws <see cref="ImageDecodeException"/>.</summary>
    public abstract void Load(int index, ImageDecoder decoder, PixelBuffer pixels, ScaleHint hint);

    /// <summary>Image <paramref name="index"/>'s size from its header (no pixels decoded), or null when it cannot be read.</summary>
    public abstract (int Width, int Height)? Size(int index);

    /// <summary>What was found odd while opening the set (files skipped, ...), one line each, for the caller to show.</summary>
    public virtual IReadOnlyList<string> Warnings => [];

    /// <summary>Up to <paramref name="count"/> indices, spread by a seeded shuffle (deterministic).</summary>
    public int[] Sample(int count, int seed = 0)
    {
        var all = Enumerable.Range(0, Count).ToArray();
        if (count >= Count) return all;
        new Random(seed).Shuffle(all);
        var picked = all[..count];
        Array.Sort(picked);
        return picked;
    }
}

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

/// <summary>
/// Image files under a folder. With class subfolders (<c>root/&lt;class&gt;/*.jpg</c>, an ImageFolder
/// tree) the images are labelled by folder, classes in ordinal name order; otherwise unlabelled.
/// </summary>
public sealed class FolderImageSet : ImageSet
{
    private readonly List<(string Path, int Label)> _files = [];
    private readonly List<string> _warnings = [];

    public FolderImageSet(string root)
    {
        if (!Directory.Exists(root)) throw new DatasetException($"image folder '{root}' does not exist");
        Name = root;
        var subdirs = Directory.GetDirectories(root).Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        var classFiles = subdirs.Select(d => (Dir: d, Files: ImagesIn(d))).Where(x => x.Files.Count > 0).ToList();
        var stray = ImagesIn(root, recurse: false);
        // Class folders make a labelled tree; an image lying beside them (a stray copy, a thumbnail) is
        // skipped and said, not a reason to refuse the whole tree. One folder beside images is no tree.
        if (classFiles.Count >= 2 || (classFiles.Count == 1 && stray.Count == 0))
        {
            Classes = [.. classFiles.Select(x => Path.GetFileName(x.Dir))];
            for (var c = 0; c < classFiles.Count; c++)
                foreach (var f in classFiles[c].Files) _files.Add((f, c));
            if (stray.Count > 0)
                _warnings.Add($"skipped {stray.Count} image(s) at the top of '{root}', outside the class folders: {string.Join(", ", stray.Take(5).Select(Path.GetFileName))}{(stray.Count > 5 ? ", ..." : "")}");
        }
        else
        {
            foreach (var f in ImagesIn(root)) _files.Add((f, -1));
        }
        if (_files.Count == 0) throw new DatasetException($"no images ({ImageFiles.Described}) under '{root}'");
    }

    private static List<string> ImagesIn(string dir, bool recurse = true) =>
        [.. Directory.EnumerateFiles(dir, "*", new EnumerationOptions { RecurseSubdirectories = recurse, IgnoreInaccessible = true })
            .Where(ImageFiles.IsImage)
            .Order(StringComparer.Ordinal)];

    public override string Name { get; }
    public override int Count => _files.Count;
    public override IReadOnlyList<string>? Classes { get; }
    public override int Label(int index) => _files[index].Label;
    public override string Describe(int index) => _files[index].Path;

    public override IReadOnlyList<string> Warnings => _warnings;

    public override (int Width, int Height)? Size(int index)
    {
        try { return ImageDecoder.ReadSize(Onnx.IO.BoundedFile.ReadAll(_files[index].Path, ImageDecoderOptions.MaxFileBytes)); }
        catch (Exception e) when (e is IOException or ImageDecodeException) { return null; }
    }

    public override void Load(int index, ImageDecoder decoder, PixelBuffer pixels, ScaleHint hint)
    {
        byte[] bytes;
        try { bytes = Onnx.IO.BoundedFile.ReadAll(_files[index].Path, ImageDecoderOptions.MaxFileBytes); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageDecodeException(ImageErrorKind.Unreadable, e.Message, e);
        }
        decoder.Decode(bytes, pixels, hint);
    }
}
