using Edge.Core.Imaging;

namespace Edge.Host.Datasets;

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
