using System.Text.Json.Serialization;
using Edge.Cli;

namespace Edge.ModelPrep.Data;

/// <summary>
/// Training-time augmentation, applied to an image already resized to the network's input by the
/// deployment preprocessor (values 0..1, CHW). All of it is drawn from a per-sample generator seeded
/// by (seed, epoch, index), so a run is reproducible whatever the thread scheduling.
/// </summary>
public sealed record AugmentationOptions
{
    /// <summary>Random resized crop: the kept area fraction is drawn from [CropScaleMin, 1], aspect from [3/4, 4/3].</summary>
    public double CropScaleMin { get; init; } = 0.6;
    public bool HorizontalFlip { get; init; } = true;
    public double RotationDegrees { get; init; } = 10;
    /// <summary>Translation, a fraction of the image size in each direction.</summary>
    public double Translate { get; init; } = 0.1;
    public double Brightness { get; init; } = 0.2;
    public double Contrast { get; init; } = 0.2;
    /// <summary>Saturation jitter (RGB models only).</summary>
    public double Saturation { get; init; } = 0.2;
    /// <summary>Probability of random erasing (a rectangle of 2–33% of the image set to the mean).</summary>
    public double Erasing { get; init; } = 0.25;

    public static AugmentationOptions None { get; } = new()
    {
        CropScaleMin = 1, HorizontalFlip = false, RotationDegrees = 0, Translate = 0, Brightness = 0, Contrast = 0, Saturation = 0, Erasing = 0,
    };

    /// <summary>For small, centred images (Fashion-MNIST): flips, small shifts, erasing; no crops or colour changes.</summary>
    public static AugmentationOptions Light { get; } = None with { HorizontalFlip = true, Translate = 0.08, Erasing = 0.2 };

    public static AugmentationOptions Default { get; } = new();

    public static AugmentationOptions Preset(string name) => name.ToLowerInvariant() switch
    {
        "none" => None,
        "light" => Light,
        "default" or "standard" => Default,
        _ => throw new CliError($"--augment '{name}': expected none, light or default", ExitCodes.Usage),
    };

    [JsonIgnore]
    public bool IsNone => this == None;

    /// <summary>Human-readable list for the run's log.</summary>
    public IEnumerable<string> Describe()
    {
        if (CropScaleMin < 1) yield return FormattableString.Invariant($"random resized crop (area {CropScaleMin:0.##}–1, aspect 3/4–4/3)");
        if (HorizontalFlip) yield return "horizontal flip";
        if (RotationDegrees > 0) yield return FormattableString.Invariant($"rotation ±{RotationDegrees:0.#}°");
        if (Translate > 0) yield return FormattableString.Invariant($"translation ±{Translate * 100:0.#}%");
        if (Brightness > 0 || Contrast > 0 || Saturation > 0)
            yield return FormattableString.Invariant($"colour jitter (brightness {Brightness:0.##}, contrast {Contrast:0.##}, saturation {Saturation:0.##})");
        if (Erasing > 0) yield return FormattableString.Invariant($"random erasing (p {Erasing:0.##})");
    }
}

/// <summary>Applies <see cref="AugmentationOptions"/> to one image.</summary>
public static class Augmenter
{
    /// <summary>A stable 64-bit mix (SplitMix64) of the run seed, epoch and sample index.</summary>
    public static int SampleSeed(int seed, int epoch, int index)
    {
        var z = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ ((ulong)(uint)epoch << 32 | (uint)index);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)(z ^ (z >> 31));
    }

    /// <summary>
    /// Writes the augmented image (values 0..1, CHW, <paramref name="size"/> square) into
    /// <paramref name="destination"/>; <paramref name="scratch"/> holds at least one image.
    /// </summary>
    public static void Apply(AugmentationOptions o, Random rng, ReadOnlySpan<float> source, Span<float> destination, int channels, int size)
    {
        var plane = size * size;
        // Geometry: one inverse affine map from output to source pixel centres.
        double cropW = size, cropH = size, cx = size / 2.0, cy = size / 2.0;
        if (o.CropScaleMin < 1)
        {
            var area = o.CropScaleMin + rng.NextDouble() * (1 - o.CropScaleMin);
            var logRatio = Math.Log(3.0 / 4) + rng.NextDouble() * (Math.Log(4.0 / 3) - Math.Log(3.0 / 4));
            var ratio = Math.Exp(logRatio);
            cropW = Math.Min(size, size * Math.Sqrt(area * ratio));
            cropH = Math.Min(size, size * Math.Sqrt(area / ratio));
            cx = cropW / 2 + rng.NextDouble() * (size - cropW);
            cy = cropH / 2 + rng.NextDouble() * (size - cropH);
        }
        var flip = o.HorizontalFlip && rng.NextDouble() < 0.5 ? -1.0 : 1.0;
        var angle = o.RotationDegrees > 0 ? (rng.NextDouble() * 2 - 1) * o.RotationDegrees * Math.PI / 180 : 0;
        var tx = o.Translate > 0 ? (rng.NextDouble() * 2 - 1) * o.Translate * size : 0;
        var ty = o.Translate > 0 ? (rng.NextDouble() * 2 - 1) * o.Translate * size : 0;
        var identity = cropW == size && cropH == size && flip > 0 && angle == 0 && tx == 0 && ty == 0;
        if (identity)
        {
            source[..(channels * plane)].CopyTo(destination);
        }
        else
        {
            var (cos, sin) = (Math.Cos(angle), Math.Sin(angle));
            double sx = cropW / size * flip, sy = cropH / size;
            var half = size / 2.0;
            for (var v = 0; v < size; v++)
            {
                for (var u = 0; u < size; u++)
                {
                    var du = (u + 0.5 - half) * sx;
                    var dv = (v + 0.5 - half) * sy;
                    var srcX = cx + cos * du - sin * dv - tx - 0.5;
                    var srcY = cy + sin * du + cos * dv - ty - 0.5;
                    // Bilinear with edge replication.
                    var x0 = (int)Math.Floor(srcX);
                    var y0 = (int)Math.Floor(srcY);
                    var fx = (float)(srcX - x0);
                    var fy = (float)(srcY - y0);
                    int xa = Math.Clamp(x0, 0, size - 1), xb = Math.Clamp(x0 + 1, 0, size - 1);
                    int ya = Math.Clamp(y0, 0, size - 1), yb = Math.Clamp(y0 + 1, 0, size - 1);
                    for (var c = 0; c < channels; c++)
                    {
                        var p = source.Slice(c * plane, plane);
                        var top = p[ya * size + xa] + (p[ya * size + xb] - p[ya * size + xa]) * fx;
                        var bottom = p[yb * size + xa] + (p[yb * size + xb] - p[yb * size + xa]) * fx;
                        destination[c * plane + v * size + u] = top + (bottom - top) * fy;
                    }
                }
            }
        }

        var image = destination[..(channels * plane)];
        if (o.Brightness > 0)
        {
            var b = (float)(1 + (rng.NextDouble() * 2 - 1) * o.Brightness);
            foreach (ref var x in image) x *= b;
        }
        if (o.Contrast > 0)
        {
            var c = (float)(1 + (rng.NextDouble() * 2 - 1) * o.Contrast);
            var mean = 0f;
            for (var i = 0; i < plane; i++) mean += Gray(image, channels, plane, i);
            mean /= plane;
            foreach (ref var x in image) x = (x - mean) * c + mean;
        }
        if (o.Saturation > 0 && channels == 3)
        {
            var s = (float)(1 + (rng.NextDouble() * 2 - 1) * o.Saturation);
            for (var i = 0; i < plane; i++)
            {
                var g = Gray(image, channels, plane, i);
                for (var c = 0; c < 3; c++) image[c * plane + i] = g + (image[c * plane + i] - g) * s;
            }
        }
        if (o.Brightness > 0 || o.Contrast > 0 || o.Saturation > 0)
            foreach (ref var x in image) x = Math.Clamp(x, 0f, 1f);
    }

    /// <summary>Random erasing (Zhong et al. 2017), after normalisation: the rectangle becomes 0, the dataset mean.</summary>
    public static void Erase(AugmentationOptions o, Random rng, Span<float> normalized, int channels, int size)
    {
        if (o.Erasing <= 0 || rng.NextDouble() >= o.Erasing) return;
        var plane = size * size;
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var area = (0.02 + rng.NextDouble() * (0.33 - 0.02)) * plane;
            var ratio = Math.Exp(Math.Log(0.3) + rng.NextDouble() * (Math.Log(3.3) - Math.Log(0.3)));
            var h = (int)Math.Round(Math.Sqrt(area * ratio));
            var w = (int)Math.Round(Math.Sqrt(area / ratio));
            if (h < 1 || w < 1 || h >= size || w >= size) continue;
            var top = rng.Next(size - h + 1);
            var left = rng.Next(size - w + 1);
            for (var c = 0; c < channels; c++)
                for (var y = top; y < top + h; y++)
                    normalized.Slice(c * plane + y * size + left, w).Clear();
            return;
        }
    }

    private static float Gray(ReadOnlySpan<float> image, int channels, int plane, int i) =>
        channels == 3 ? 0.299f * image[i] + 0.587f * image[plane + i] + 0.114f * image[2 * plane + i] : image[i];
}
