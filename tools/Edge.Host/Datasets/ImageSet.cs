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
