using Edge.Host.Datasets;

namespace Edge.ModelPrep.Commands;

/// <summary>Turns a command-line data argument into an <see cref="ImageSet"/>.</summary>
internal static class ImageSets
{
    /// <summary>
    /// "fashion-mnist" (Debian's dataset-fashion-mnist; <paramref name="defaultSplit"/>), "fashion-mnist:test",
    /// an IDX images file (its labels file beside it is used when present), or a folder of images.
    /// </summary>
    public static ImageSet Open(string spec, string defaultSplit)
    {
        if (spec.StartsWith("fashion-mnist", StringComparison.OrdinalIgnoreCase))
        {
            var split = spec.Contains(':') ? spec[(spec.IndexOf(':') + 1)..] : defaultSplit;
            if (spec.Length > "fashion-mnist".Length && spec["fashion-mnist".Length] != ':')
                throw new DatasetException($"'{spec}': expected fashion-mnist, fashion-mnist:train or fashion-mnist:test");
            if (split is not ("train" or "test" or "t10k"))
                throw new DatasetException($"'{spec}': unknown split '{split}'; expected fashion-mnist:train or fashion-mnist:test");
            return IdxImageSet.FashionMnist(split);
        }
        if (Directory.Exists(spec)) return new FolderImageSet(spec);
        if (File.Exists(spec))
        {
            var name = Path.GetFileName(spec);
            var labels = name.Contains("images-idx3", StringComparison.Ordinal)
                ? Path.Combine(Path.GetDirectoryName(spec) ?? ".", name.Replace("images-idx3", "labels-idx1", StringComparison.Ordinal))
                : null;
            return new IdxImageSet(spec, labels is not null && File.Exists(labels) ? labels : null,
                labels is not null && name.Contains("ubyte") && spec.Contains("fashion", StringComparison.OrdinalIgnoreCase) ? IdxImageSet.FashionMnistClasses : null);
        }
        throw new DatasetException($"'{spec}' is neither 'fashion-mnist', a folder of images nor an IDX file");
    }
}
