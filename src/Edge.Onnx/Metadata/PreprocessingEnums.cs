namespace Edge.Onnx.Metadata;

/// <summary>How an image of any aspect ratio is fitted to the model's input.</summary>
public enum ResizeMode
{
    /// <summary>Stretch the whole image to the input size (aspect ratio not kept).</summary>
    Squash,
    /// <summary>Keep the aspect ratio, cut the centre to the input's aspect ratio.</summary>
    CenterCrop,
    /// <summary>Keep the aspect ratio, fit the whole image inside and fill the bars.</summary>
    Letterbox,
}

/// <summary>Channel count and order of the model's input.</summary>
public enum ColorOrder { Rgb, Bgr, Gray }

/// <summary>Whether the model's output is already a probability distribution.</summary>
public enum OutputKind { Logits, Probabilities }

public static class PreprocessingNames
{
    public static string Name(this ResizeMode mode) => mode switch
    {
        ResizeMode.Squash => "squash",
        ResizeMode.CenterCrop => "center-crop",
        ResizeMode.Letterbox => "letterbox",
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    public static string Name(this ColorOrder color) => color switch
    {
        ColorOrder.Rgb => "rgb",
        ColorOrder.Bgr => "bgr",
        ColorOrder.Gray => "gray",
        _ => throw new ArgumentOutOfRangeException(nameof(color)),
    };

    public static string Name(this OutputKind kind) => kind == OutputKind.Logits ? "logits" : "probabilities";

    public static int Channels(this ColorOrder color) => color == ColorOrder.Gray ? 1 : 3;

    public static bool TryParseResize(string text, out ResizeMode mode)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "squash" or "stretch": mode = ResizeMode.Squash; return true;
            case "center-crop" or "centercrop" or "crop": mode = ResizeMode.CenterCrop; return true;
            case "letterbox" or "pad": mode = ResizeMode.Letterbox; return true;
            default: mode = default; return false;
        }
    }

    public static bool TryParseColor(string text, out ColorOrder color)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "rgb": color = ColorOrder.Rgb; return true;
            case "bgr": color = ColorOrder.Bgr; return true;
            case "gray" or "grey" or "l": color = ColorOrder.Gray; return true;
            default: color = default; return false;
        }
    }

    public static bool TryParseOutput(string text, out OutputKind kind)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "logits": kind = OutputKind.Logits; return true;
            case "probabilities" or "probs" or "softmax": kind = OutputKind.Probabilities; return true;
            default: kind = default; return false;
        }
    }
}
