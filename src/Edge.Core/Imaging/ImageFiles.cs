namespace Edge.Core.Imaging;

/// <summary>
/// Which files Edge takes for images wherever it lists a folder (classify, watched folders, data
/// sets): the formats <see cref="ImageDecoder"/> reads, by extension, case ignored; hidden files
/// (a leading dot: editors' and copiers' temporaries) never.
/// </summary>
public static class ImageFiles
{
    public static IReadOnlySet<string> Extensions { get; } =
        new HashSet<string>([".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif"], StringComparer.OrdinalIgnoreCase);

    /// <summary>The extensions as a user reads them: "jpg, jpeg, png, bmp, webp, gif".</summary>
    public static string Described => string.Join(", ", Extensions.Select(e => e.TrimStart('.')));

    public static bool IsImage(string path) =>
        Extensions.Contains(Path.GetExtension(path)) && !Path.GetFileName(path).StartsWith('.');
}
