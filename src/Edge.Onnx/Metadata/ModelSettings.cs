using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Edge.Onnx.Metadata;

/// <summary>
/// Labels and preprocessing as stated by one source (model metadata, a sidecar file, command-line
/// flags). Every field is optional; <see cref="Overlay"/> lets a later source win field by field.
/// </summary>
public sealed record ModelSettings
{
    public IReadOnlyList<string>? Labels { get; init; }
    public int? Width { get; init; }
    public int? Height { get; init; }
    public ColorOrder? Color { get; init; }
    public ResizeMode? Resize { get; init; }
    public float? CropFraction { get; init; }
    public float? Scale { get; init; }
    public float[]? Mean { get; init; }
    public float[]? Std { get; init; }
    public byte? LetterboxFill { get; init; }
    public OutputKind? Output { get; init; }

    public static ModelSettings Empty { get; } = new();

    public bool IsEmpty => this == Empty || (Labels is null && Width is null && Height is null && Color is null
        && Resize is null && CropFraction is null && Scale is null && Mean is null && Std is null
        && LetterboxFill is null && Output is null);

    /// <summary>This source with every field that <paramref name="over"/> sets replaced by its value.</summary>
    public ModelSettings Overlay(ModelSettings over) => new()
    {
        Labels = over.Labels ?? Labels,
        Width = over.Width ?? Width,
        Height = over.Height ?? Height,
        Color = over.Color ?? Color,
        Resize = over.Resize ?? Resize,
        CropFraction = over.CropFraction ?? CropFraction,
        Scale = over.Scale ?? Scale,
        Mean = over.Mean ?? Mean,
        Std = over.Std ?? Std,
        LetterboxFill = over.LetterboxFill ?? LetterboxFill,
        Output = over.Output ?? Output,
    };

    /// <summary>
    /// The names of the settings, as a sidecar file spells them; every source (model metadata, a
    /// sidecar, command-line flags) hands its values to <see cref="Read"/> under these names.
    /// </summary>
    public static class Names
    {
        public const string InputSize = "input_size";
        public const string Color = "color";
        public const string Resize = "resize";
        public const string CropFraction = "crop_fraction";
        public const string Scale = "scale";
        public const string Mean = "mean";
        public const string Std = "std";
        public const string LetterboxFill = "letterbox_fill";
        public const string Output = "output";
        public const string Labels = "labels";
    }

    /// <summary>
    /// The one reader of model settings: <paramref name="values"/> holds text values under
    /// <see cref="Names"/> (labels already split by the source's own format), <paramref name="where"/>
    /// says how a source names a setting in messages ("model metadata key 'edge.preprocess.color'",
    /// "sidecar 'm.json' key 'color'", "--color").
    /// </summary>
    /// <exception cref="FormatException">A value does not parse; the message names it through <paramref name="where"/>.</exception>
    /// <param name="blankIsAbsent">Whether a blank value means "not stated" (model metadata, where tools write empty
    /// entries) rather than a mistake (a sidecar's <c>"mean": []</c>, a flag given as <c>--mean ""</c>).</param>
    public static ModelSettings Read(IReadOnlyDictionary<string, string> values, Func<string, string> where, IReadOnlyList<string?>? labels = null,
        bool blankIsAbsent = false)
    {
        string? Get(string name) =>
            !values.TryGetValue(name, out var v) ? null
            : !string.IsNullOrWhiteSpace(v) ? v
            : blankIsAbsent ? null
            : throw new FormatException($"{where(name)} is empty");
        var settings = new ModelSettings();
        if (labels is not null) settings = settings with { Labels = CheckLabels(labels, where(Names.Labels)) };
        if (Get(Names.InputSize) is { } size)
        {
            var (w, h) = ParseSize(size, where(Names.InputSize));
            settings = settings with { Width = w, Height = h };
        }
        if (Get(Names.Color) is { } color)
            settings = settings with { Color = PreprocessingNames.TryParseColor(color, out var c) ? c : throw Bad(where(Names.Color), color, "rgb, bgr or gray") };
        if (Get(Names.Resize) is { } resize)
            settings = settings with { Resize = PreprocessingNames.TryParseResize(resize, out var r) ? r : throw Bad(where(Names.Resize), resize, "squash, center-crop or letterbox") };
        if (Get(Names.CropFraction) is { } crop) settings = settings with { CropFraction = ParseFloat(crop, where(Names.CropFraction)) };
        if (Get(Names.Scale) is { } scale) settings = settings with { Scale = ParseFloat(scale, where(Names.Scale)) };
        if (Get(Names.Mean) is { } mean) settings = settings with { Mean = ParseFloats(mean, where(Names.Mean)) };
        if (Get(Names.Std) is { } std) settings = settings with { Std = ParseFloats(std, where(Names.Std)) };
        if (Get(Names.LetterboxFill) is { } fill)
            settings = settings with { LetterboxFill = byte.TryParse(fill, NumberStyles.Integer, CultureInfo.InvariantCulture, out var b) ? b : throw Bad(where(Names.LetterboxFill), fill, "an integer 0..255") };
        if (Get(Names.Output) is { } output)
            settings = settings with { Output = PreprocessingNames.TryParseOutput(output, out var o) ? o : throw Bad(where(Names.Output), output, "logits or probabilities") };
        return settings;
    }

    /// <summary>Each setting's <see cref="ModelMetadataKeys"/> key.</summary>
    private static readonly (string Name, string Key)[] MetadataKeys =
    [
        (Names.InputSize, ModelMetadataKeys.InputSize), (Names.Color, ModelMetadataKeys.Color), (Names.Resize, ModelMetadataKeys.Resize),
        (Names.CropFraction, ModelMetadataKeys.CropFraction), (Names.Scale, ModelMetadataKeys.Scale), (Names.Mean, ModelMetadataKeys.Mean),
        (Names.Std, ModelMetadataKeys.Std), (Names.LetterboxFill, ModelMetadataKeys.LetterboxFill), (Names.Output, ModelMetadataKeys.Output),
        (Names.Labels, ModelMetadataKeys.Labels),
    ];

    /// <summary>Reads the <see cref="ModelMetadataKeys"/> entries of a model's metadata_props.</summary>
    /// <exception cref="FormatException">A value does not parse; the message names the key.</exception>
    public static ModelSettings FromMetadata(IReadOnlyDictionary<string, string> props, string source = "model metadata")
    {
        var values = new Dictionary<string, string>();
        foreach (var (name, key) in MetadataKeys)
            if (props.TryGetValue(key, out var v)) values[name] = v;
        string Where(string name) => $"{source} key '{MetadataKeys.First(k => k.Name == name).Key}'";
        var labels = values.TryGetValue(Names.Labels, out var json) && !string.IsNullOrWhiteSpace(json) ? ParseLabelsJson(json, Where(Names.Labels)) : null;
        return Read(values, Where, labels, blankIsAbsent: true);
    }

    /// <summary>The metadata_props entries that state these settings (only the fields that are set).</summary>
    public IEnumerable<KeyValuePair<string, string>> ToMetadata()
    {
        yield return new(ModelMetadataKeys.FormatVersion, "1");
        if (Labels is not null) yield return new(ModelMetadataKeys.Labels, FormatLabelsJson(Labels));
        if (Width is { } w && Height is { } h) yield return new(ModelMetadataKeys.InputSize, $"{w}x{h}");
        if (Color is { } c) yield return new(ModelMetadataKeys.Color, c.Name());
        if (Resize is { } r) yield return new(ModelMetadataKeys.Resize, r.Name());
        if (CropFraction is { } cf) yield return new(ModelMetadataKeys.CropFraction, Format(cf));
        if (Scale is { } s) yield return new(ModelMetadataKeys.Scale, Format(s));
        if (Mean is not null) yield return new(ModelMetadataKeys.Mean, string.Join(",", Mean.Select(Format)));
        if (Std is not null) yield return new(ModelMetadataKeys.Std, string.Join(",", Std.Select(Format)));
        if (LetterboxFill is { } f) yield return new(ModelMetadataKeys.LetterboxFill, f.ToString(CultureInfo.InvariantCulture));
        if (Output is { } o) yield return new(ModelMetadataKeys.Output, o.Name());
    }

    public static string FormatLabelsJson(IReadOnlyList<string> labels)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var label in labels) writer.WriteStringValue(label);
            writer.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static string[] ParseLabelsJson(string json, string where)
    {
        var labels = new List<string>();
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                throw new FormatException($"{where} must be a JSON array of strings, e.g. [\"cat\",\"dog\"]");
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (labels.Count == ModelLimits.MaxClasses)
                    throw new FormatException($"{where} holds more than {ModelLimits.MaxClasses} labels; Edge supports at most {ModelLimits.MaxClasses} classes");
                if (reader.TokenType != JsonTokenType.String)
                    throw new FormatException($"{where}: label {labels.Count} is a {reader.TokenType}, not a string");
                labels.Add(reader.GetString()!);
            }
        }
        catch (JsonException e)
        {
            throw new FormatException($"{where} is not valid JSON: {e.Message}", e);
        }
        return CheckLabels(labels, where);
    }

    /// <summary>Labels from a text file: one per line, blank lines at the end ignored.</summary>
    public static string[] ParseLabelsText(string text, string where)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n').Select(l => l.Trim()).ToList();
        if (lines.Count > ModelLimits.MaxClasses + 1)
            throw new FormatException($"{where} holds more than {ModelLimits.MaxClasses} labels; Edge supports at most {ModelLimits.MaxClasses} classes");
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return CheckLabels(lines, where);
    }

    /// <summary>Labels given as a list (a sidecar's JSON array): each entry is one label, as it is.</summary>
    public static string[] CheckLabels(IReadOnlyList<string?> labels, string where) =>
        CheckLabels(labels.Select((l, i) => l ?? throw new FormatException($"{where}: label {i} is null")).ToList(), where);

    private static string[] CheckLabels(List<string> labels, string where)
    {
        if (labels.Count == 0) throw new FormatException($"{where} holds no labels");
        if (labels.Count > ModelLimits.MaxClasses)
            throw new FormatException($"{where} holds {labels.Count} labels; Edge supports at most {ModelLimits.MaxClasses} classes");
        for (var i = 0; i < labels.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(labels[i]))
                throw new FormatException($"{where}: label {i} is empty");
            if (labels[i].Length > ModelLimits.MaxLabelLength)
                throw new FormatException($"{where}: label {i} is {labels[i].Length} characters long; at most {ModelLimits.MaxLabelLength} are allowed");
            // Labels reach logs, file names and the live page: no line breaks or other control characters.
            if (labels[i].Any(char.IsControl))
                throw new FormatException($"{where}: label {i} contains a control character (line break, tab, ...)");
        }
        return [.. labels];
    }

    public static (int Width, int Height) ParseSize(string text, string where)
    {
        var parts = text.Trim().ToLowerInvariant().Split('x');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var w)
            && int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var h)
            && w is > 0 and <= ModelLimits.MaxInputSide && h is > 0 and <= ModelLimits.MaxInputSide)
            return (w, h);
        throw new FormatException($"{where} = '{Clip(text)}' is not a size; expected WIDTHxHEIGHT such as 224x224, each side 1..{ModelLimits.MaxInputSide}");
    }

    public static float ParseFloat(string text, string where)
    {
        var t = text.Trim();
        // Allow "1/255", the way scales are usually written.
        var slash = t.IndexOf('/');
        if (slash > 0
            && double.TryParse(t[..slash], NumberStyles.Float, CultureInfo.InvariantCulture, out var num)
            && double.TryParse(t[(slash + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var den) && den != 0
            && float.IsFinite((float)(num / den)))
            return (float)(num / den);
        if (float.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && float.IsFinite(v))
            return v;
        throw new FormatException($"{where} = '{Clip(text)}' is not a number");
    }

    public static float[] ParseFloats(string text, string where) =>
        [.. text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(p => ParseFloat(p, where))];

    private static string Format(float v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static FormatException Bad(string where, string value, string expected) =>
        new($"{where} = '{Clip(value)}' is not valid; expected {expected}");

    /// <summary>A value from a model as it may appear in a message: short, control characters escaped.</summary>
    public static string Clip(string value)
    {
        var sb = new StringBuilder();
        foreach (var c in value.Length > 60 ? value[..60] : value) sb.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        if (value.Length > 60) sb.Append("...");
        return sb.ToString();
    }
}
