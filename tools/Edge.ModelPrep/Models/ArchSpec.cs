using System.Text.Json.Serialization;
using Edge.Cli;

namespace Edge.ModelPrep.Models;

/// <summary>What a network is: architecture, width multiplier, input geometry and class count. Saved with every checkpoint.</summary>
public sealed record ArchSpec
{
    public static readonly string[] Names = ["mobilenetv2", "mobilenetv3-small", "resnet18", "resnet34", "resnet20"];

    public required string Arch { get; init; }
    public double Width { get; init; } = 1.0;
    public required int InputSize { get; init; }
    public required int Channels { get; init; }
    public required int Classes { get; init; }
    public double Dropout { get; init; } = 0.2;
    /// <summary>
    /// ResNet: blocks per stage, comma-separated, when not the architecture's usual ones (an imported
    /// backbone's, e.g. ML.NET's ImageNet "ResNet-18" has 2,2,2,3). A string so that specs compare by value.
    /// </summary>
    public string? Blocks { get; init; }
    /// <summary>ResNet-18/34: ImageNet's 7x7 stride-2 stem and max-pool whatever the input size (a pretrained start needs it); null = only from 128 pixels.</summary>
    public bool? ImagenetStem { get; init; }
    /// <summary>
    /// The first convolution's stride, 1 or 2; null = the architecture's own (ResNet-20: 1; ResNet-18/34: the ImageNet
    /// stem from 128 pixels, else 1; the MobileNets: 2 unless the input is too small). Given, a ResNet gets the small 3x3
    /// stem at any size, and a MobileNet's later strided stages give way to keep its last map at least 4x4. 2 halves every
    /// feature map after it: at 28 pixels a ResNet-20 runs 3.6x fewer MACs and about 2.7x faster in ONNX Runtime.
    /// </summary>
    public int? StemStride { get; init; }

    /// <summary>
    /// Structured pruning's result: the channel count of each of the network's channel groups, comma-separated
    /// in the order the network builds them (<see cref="ClassifierNet.Groups"/>); null = full width; 0 = a residual
    /// branch dropped (only where the group is <see cref="ChannelGroup.Removable"/>). A string so that specs compare by value.
    /// </summary>
    public string? Plan { get; init; }

    public string Describe() =>
        $"{Arch}{(Width == 1.0 ? "" : FormattableString.Invariant($"-{Width:0.###}"))}{(Blocks is null ? "" : $" [{Blocks}]")}{(StemStride is { } st ? $" stem/{st}" : "")}{(Plan is null ? "" : " pruned")} {InputSize}x{InputSize}x{Channels} → {Classes} classes";

    /// <summary>The counts of <see cref="Plan"/>, or null; ranges are checked against the groups as the network is built.</summary>
    public int[]? PlanCounts()
    {
        if (Plan is null) return null;
        var parts = Plan.Split(',', StringSplitOptions.TrimEntries);
        if (!parts.All(p => int.TryParse(p, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)))
            throw new CliError($"channel plan '{(Plan.Length > 80 ? Plan[..80] + "..." : Plan)}': expected channel counts separated by commas");
        return [.. parts.Select(p => int.Parse(p, System.Globalization.CultureInfo.InvariantCulture))];
    }

    /// <summary>Blocks per stage: <see cref="Blocks"/> if given, else the architecture's own.</summary>
    public int[] Depths(int[] usual)
    {
        if (Blocks is null) return usual;
        var parts = Blocks.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != usual.Length || !parts.All(p => int.TryParse(p, out var n) && n is >= 1 and <= 16))
            throw new CliError($"blocks '{Blocks}': expected {usual.Length} counts of 1..16 separated by commas");
        return [.. parts.Select(int.Parse)];
    }

    public void Validate()
    {
        if (!Names.Contains(Arch)) throw new CliError($"--arch '{Arch}': expected one of {string.Join(", ", Names)}", ExitCodes.Usage);
        if (Width is <= 0 or > 4) throw new CliError($"--width {Width}: expected a multiplier in (0, 4]", ExitCodes.Usage);
        if (InputSize is < 8 or > 1024) throw new CliError($"--input-size {InputSize}: expected 8..1024 pixels", ExitCodes.Usage);
        if (Channels is not (1 or 3)) throw new CliError($"channels {Channels}: expected 1 (gray) or 3 (RGB)");
        if (Classes < 2) throw new CliError($"{Classes} class(es): a classifier needs at least 2");
        if (StemStride is not (null or 1 or 2)) throw new CliError($"--stem-stride {StemStride}: expected 1 or 2", ExitCodes.Usage);
        if (StemStride is not null && ImagenetStem == true) throw new CliError("--stem-stride: the ImageNet stem's stride is fixed (7x7, stride 2, and a max-pool)", ExitCodes.Usage);
        if (Dropout is < 0 or >= 1) throw new CliError($"--dropout {Dropout}: expected 0 <= p < 1", ExitCodes.Usage);
    }

    /// <summary>torchvision's rounding of scaled channel counts: a multiple of 8, never more than 10% below.</summary>
    public static int MakeDivisible(double value, int divisor = 8)
    {
        var v = Math.Max(divisor, (int)(value + divisor / 2.0) / divisor * divisor);
        if (v < 0.9 * value) v += divisor;
        return v;
    }

    /// <summary>
    /// Which of a network's stride-2 stages keep their stride: the earliest are made stride 1 until the
    /// last feature map is at least 4 pixels, so a 28–32 pixel input is not shrunk to 1x1 (CIFAR-style).
    /// </summary>
    public static bool[] KeepStrides(int inputSize, int stridedStages, int? stemStride = null)
    {
        var keep = Enumerable.Repeat(true, stridedStages).ToArray();
        // A stem stride that was asked for holds; the later stages give way instead.
        if (stemStride is { } st) keep[0] = st == 2;
        for (var i = stemStride is null ? 0 : 1; i < stridedStages; i++)
        {
            var size = inputSize;
            for (var j = 0; j < stridedStages; j++) if (keep[j]) size = (size + 1) / 2;
            if (size >= 4) break;
            keep[i] = false;
        }
        return keep;
    }
}
