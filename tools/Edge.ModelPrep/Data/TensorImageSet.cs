using System.Diagnostics;
using Edge.Cli;
using Edge.Core.Diagnostics;
using Edge.Core.Imaging;
using Edge.Host.Datasets;
using Edge.Onnx.Metadata;

namespace Edge.ModelPrep.Data;

/// <summary>An image that could not be used, and why.</summary>
public sealed record SkippedImage(string Image, string Reason);

/// <summary>
/// A labelled image set decoded and resized once by Edge.Core's decoder and <see cref="Preprocessor"/>
/// — the code the daemon runs — and kept in memory as 0..1 values (CHW, half precision: exact to well
/// under one 8-bit grey level). Normalisation and augmentation happen per batch on top of it.
/// </summary>
public sealed class TensorImageSet
{
    /// <summary>Memory the cache may take before we refuse (a smaller --input-size or a subset fits).</summary>
    public const long MaxCacheBytes = ((long)int.MaxValue + 1) * 2; // 4 GiB: spans index with int

    private readonly Half[] _data;
    private readonly int[] _labels;
    private readonly int[] _sources;

    private TensorImageSet(string name, IReadOnlyList<string> classes, int channels, int size, Half[] data, int[] labels, int[] sources, IReadOnlyList<SkippedImage> skipped)
    {
        (Name, Classes, Channels, Size, _data, _labels, _sources, Skipped) = (name, classes, channels, size, data, labels, sources, skipped);
    }

    /// <summary>The index in the source <see cref="ImageSet"/> of image <paramref name="index"/> (a subset and skipped images shift them).</summary>
    public int SourceIndex(int index) => _sources[index];

    public string Name { get; }
    public IReadOnlyList<string> Classes { get; }
    public int Channels { get; }
    public int Size { get; }
    public int Count => _labels.Length;
    public int ImageLength => Channels * Size * Size;
    public IReadOnlyList<int> Labels => _labels;
    public IReadOnlyList<SkippedImage> Skipped { get; }

    public int Label(int index) => _labels[index];

    public void CopyImage(int index, Span<float> destination)
    {
        var src = _data.AsSpan(index * ImageLength, ImageLength);
        for (var i = 0; i < src.Length; i++) destination[i] = (float)src[i];
    }

    public int[] ClassCounts()
    {
        var counts = new int[Classes.Count];
        foreach (var l in _labels) counts[l]++;
        return counts;
    }

    /// <summary>Per-channel mean and standard deviation of the 0..1 values (for normalisation).</summary>
    public (float[] Mean, float[] Std) ChannelStatistics(int maxImages = 5000)
    {
        var mean = new double[Channels];
        var sq = new double[Channels];
        var n = Math.Min(Count, maxImages);
        var step = Math.Max(1, Count / n);
        var plane = Size * Size;
        long pixels = 0;
        for (var i = 0; i < Count; i += step)
        {
            var img = _data.AsSpan(i * ImageLength, ImageLength);
            for (var c = 0; c < Channels; c++)
                for (var p = 0; p < plane; p++)
                {
                    var v = (double)img[c * plane + p];
                    mean[c] += v;
                    sq[c] += v * v;
                }
            pixels += plane;
        }
        var m = new float[Channels];
        var s = new float[Channels];
        for (var c = 0; c < Channels; c++)
        {
            m[c] = (float)Math.Round(mean[c] / pixels, 4);
            s[c] = (float)Math.Round(Math.Sqrt(Math.Max(1e-8, sq[c] / pixels - (mean[c] / pixels) * (mean[c] / pixels))), 4);
        }
        return (m, s);
    }

    /// <summary>
    /// The deployment preprocessing of a network trained here: its input size, colour order and
    /// resize mode (center-crop keeps ImageNet's 0.875), 0..255 scaled to 0..1, then mean/std.
    /// </summary>
    public static PreprocessingSpec Preprocessing(int inputSize, ColorOrder color, ResizeMode resize, float[] mean, float[] std) => new()
    {
        Width = inputSize, Height = inputSize, Color = color, Resize = resize,
        CropFraction = resize == ResizeMode.CenterCrop ? 0.875f : 1f, Scale = 1f / 255f, Mean = mean, Std = std,
    };

    /// <summary>Refuses a set that cannot train a classifier: no class folders, or fewer than two classes.</summary>
    public static IReadOnlyList<string> RequireClasses(ImageSet set)
    {
        if (set.Classes is null)
            throw new DatasetException($"'{set.Name}' has no class folders: training needs an ImageFolder tree (root/<class>/*.jpg)");
        if (set.Classes.Count < 2)
            throw new DatasetException($"'{set.Name}' has {set.Classes.Count} class ({string.Join(", ", set.Classes)}): a classifier needs at least 2");
        // Class names become the model's labels, which may hold no control characters (a newline would split labels.txt).
        if (set.Classes.FirstOrDefault(c => c.Any(char.IsControl)) is { } bad)
            throw new DatasetException($"'{set.Name}': the class folder name '{string.Concat(bad.Select(ch => char.IsControl(ch) ? $"\\u{(int)ch:x4}" : ch.ToString()))}' holds a control character; rename the folder");
        return set.Classes;
    }

    /// <summary>
    /// Decodes and resizes every image of <paramref name="set"/> with <paramref name="spec"/>'s geometry and
    /// colour order (its mean/std are not applied here). Unreadable images are skipped and listed.
    /// </summary>
    public static TensorImageSet Build(ImageSet set, PreprocessingSpec spec, int workers = 0, IProgress<StepProgress>? progress = null, int[]? subset = null)
    {
        var classes = RequireClasses(set);
        var unit = spec with { Scale = 1f / 255f, Mean = new float[spec.Channels], Std = Enumerable.Repeat(1f, spec.Channels).ToArray() };
        var indices = subset ?? Enumerable.Range(0, set.Count).ToArray();
        var length = unit.Channels * unit.Width * unit.Height;
        if ((long)indices.Length * length * 2 >= MaxCacheBytes)
            throw new DatasetException($"{indices.Length} images of {unit.Width}x{unit.Height}x{unit.Channels} need {(long)indices.Length * length * 2 >> 20} MiB in memory, over the {MaxCacheBytes >> 30} GiB cache limit: use a smaller --input-size or --max-images");
        var data = new Half[(long)indices.Length * length];
        var ok = new bool[indices.Length];
        var reasons = new string?[indices.Length];
        var done = 0;
        var hint = ScaleHint.For(unit);
        var sw = Stopwatch.StartNew();
        Parallel.For(0, indices.Length,
            new ParallelOptions { MaxDegreeOfParallelism = workers > 0 ? workers : Environment.ProcessorCount },
            () => (Decoder: new ImageDecoder(), Pixels: new PixelBuffer(), Pre: new Preprocessor(unit), Tensor: new float[length]),
            (i, _, state) =>
            {
                try
                {
                    set.Load(indices[i], state.Decoder, state.Pixels, hint);
                    state.Pre.Run(state.Pixels.View, state.Tensor);
                    var dst = data.AsSpan(i * length, length);
                    for (var k = 0; k < length; k++) dst[k] = (Half)state.Tensor[k];
                    ok[i] = true;
                }
                catch (ImageDecodeException e)
                {
                    reasons[i] = e.Message;
                }
                var n = Interlocked.Increment(ref done);
                if (progress is not null && (n % 512 == 0 || n == indices.Length)) progress.Report(new StepProgress("decoding images", n, indices.Length));
                return state;
            },
            state => { state.Decoder.Dispose(); state.Pixels.Dispose(); });

        var skipped = new List<SkippedImage>();
        var kept = new List<int>();
        for (var i = 0; i < indices.Length; i++)
        {
            if (ok[i]) kept.Add(i);
            else skipped.Add(new SkippedImage(set.Describe(indices[i]), reasons[i] ?? "unreadable"));
        }
        if (kept.Count == 0)
            throw new DatasetException($"none of the {indices.Length} images under '{set.Name}' could be read (first: {skipped[0].Image}: {skipped[0].Reason})");
        Half[] compact;
        if (kept.Count == indices.Length) compact = data;
        else
        {
            compact = new Half[(long)kept.Count * length];
            for (var j = 0; j < kept.Count; j++) data.AsSpan(kept[j] * length, length).CopyTo(compact.AsSpan(j * length, length));
        }
        var labels = kept.Select(j => set.Label(indices[j])).ToArray();
        var result = new TensorImageSet(set.Name, classes, unit.Channels, unit.Width, compact, labels, [.. kept.Select(j => indices[j])], skipped);
        var present = result.ClassCounts().Count(c => c > 0);
        if (present < 2)
            throw new DatasetException($"only {present} class of '{set.Name}' has readable images: a classifier needs at least 2");
        return result;
    }

    /// <summary>A seeded split stratified by class: about <paramref name="fraction"/> of each class goes to validation.</summary>
    public (int[] Train, int[] Validation) Split(double fraction, int seed)
    {
        if (fraction is < 0 or >= 1) throw new CliError($"--val-fraction {fraction}: expected 0 <= f < 1", ExitCodes.Usage);
        var rng = new Random(seed);
        var train = new List<int>();
        var val = new List<int>();
        for (var c = 0; c < Classes.Count; c++)
        {
            var members = Enumerable.Range(0, Count).Where(i => _labels[i] == c).ToArray();
            rng.Shuffle(members);
            var nVal = (int)Math.Round(members.Length * fraction);
            if (fraction > 0 && members.Length >= 2) nVal = Math.Clamp(nVal, 1, members.Length - 1);
            val.AddRange(members[..nVal]);
            train.AddRange(members[nVal..]);
        }
        train.Sort();
        val.Sort();
        return ([.. train], [.. val]);
    }
}
