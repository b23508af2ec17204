namespace Edge.Onnx.Metadata;

/// <summary>
/// The complete, validated preprocessing of one model: every field has a value. Made by
/// <see cref="Resolve"/> from the model's input shape and the settings of all sources.
/// </summary>
public sealed record PreprocessingSpec
{
    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];
    // Gray defaults: the mean of ImageNet's channel statistics.
    public static readonly float[] ImageNetGrayMean = [0.449f];
    public static readonly float[] ImageNetGrayStd = [0.226f];

    public required int Width { get; init; }
    public required int Height { get; init; }
    public required ColorOrder Color { get; init; }
    public required ResizeMode Resize { get; init; }
    public float CropFraction { get; init; } = 1f;
    public float Scale { get; init; } = 1f / 255f;
    public required float[] Mean { get; init; }
    public required float[] Std { get; init; }
    public byte LetterboxFill { get; init; }

    public int Channels => Color.Channels();

    /// <summary>
    /// Fills the gaps in <paramref name="settings"/> with the documented defaults and checks the
    /// result against the model's input (<paramref name="channels"/>, fixed height/width or null).
    /// </summary>
    /// <exception cref="FormatException">The settings contradict each other or the model; the message says how.</exception>
    public static PreprocessingSpec Resolve(ModelSettings settings, int channels, int? inputWidth, int? inputHeight)
    {
        if (channels is not (1 or 3))
            throw new FormatException($"the model's input has {channels} channels; Edge feeds 1 (gray) or 3 (RGB/BGR)");
        var color = settings.Color ?? (channels == 1 ? ColorOrder.Gray : ColorOrder.Rgb);
        if (color.Channels() != channels)
            throw new FormatException($"color '{color.Name()}' has {color.Channels()} channel(s) but the model's input has {channels}");

        int width, height;
        if (inputWidth is { } w && inputHeight is { } h)
        {
            if (settings.Width is { } sw && settings.Height is { } sh && (sw != w || sh != h))
                throw new FormatException($"input size {sw}x{sh} was given but the model's input is fixed at {w}x{h}");
            (width, height) = (w, h);
        }
        else if (settings.Width is { } sw && settings.Height is { } sh)
            (width, height) = (sw, sh);
        else
            throw new MissingSettingException(ModelSettings.Names.InputSize,
                $"the model's input height/width are not fixed; give the size in metadata '{ModelMetadataKeys.InputSize}' or a sidecar's 'input_size'");

        var mean = settings.Mean ?? (channels == 1 ? ImageNetGrayMean : ImageNetMean);
        var std = settings.Std ?? (channels == 1 ? ImageNetGrayStd : ImageNetStd);
        mean = Broadcast(mean, channels, "mean");
        std = Broadcast(std, channels, "std");
        // Values a camera frame could never be normalised with are refused here, not found on the first frame.
        foreach (var s in std)
            if (!(s is >= 1e-6f and <= 1e6f)) throw new FormatException($"std values must be positive, in [1e-6, 1e6], got {s}");
        foreach (var m in mean)
            if (!(Math.Abs(m) <= 1e6f)) throw new FormatException($"mean values must be finite numbers within ±1e6, got {m}");
        var scale = settings.Scale ?? 1f / 255f;
        if (!(scale is > 0 and <= 1e4f)) throw new FormatException($"scale must be in (0, 1e4], got {scale}");
        var crop = settings.CropFraction ?? 1f;
        if (!(crop > 0 && crop <= 1)) throw new FormatException($"crop_fraction must be in (0, 1], got {crop}");

        return new PreprocessingSpec
        {
            Width = width,
            Height = height,
            Color = color,
            Resize = settings.Resize ?? ResizeMode.Squash,
            CropFraction = crop,
            Scale = scale,
            Mean = mean,
            Std = std,
            LetterboxFill = settings.LetterboxFill ?? 0,
        };
    }

    /// <summary>These values as settings, to be written into a model's metadata.</summary>
    public ModelSettings ToSettings() => new()
    {
        Width = Width, Height = Height, Color = Color, Resize = Resize, CropFraction = CropFraction,
        Scale = Scale, Mean = Mean, Std = Std, LetterboxFill = LetterboxFill,
    };

    public override string ToString() =>
        $"{Width}x{Height} {Color.Name()} {Resize.Name()}{(Resize == ResizeMode.CenterCrop && CropFraction < 1 ? $" ({CropFraction:0.###})" : "")}, " +
        $"x{Scale:0.######} mean [{string.Join(", ", Mean.Select(m => m.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)))}] " +
        $"std [{string.Join(", ", Std.Select(m => m.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)))}]";

    private static float[] Broadcast(float[] values, int channels, string name)
    {
        if (values.Length == channels) return values;
        if (values.Length == 1) return Enumerable.Repeat(values[0], channels).ToArray();
        throw new FormatException($"{name} has {values.Length} values but the model's input has {channels} channel(s)");
    }
}
