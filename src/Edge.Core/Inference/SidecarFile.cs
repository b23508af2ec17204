using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Onnx.Metadata;

namespace Edge.Core.Inference;

/// <summary>
/// <c>model.onnx.json</c> (or <c>model.json</c>) beside a foreign model: labels and preprocessing
/// for a model that does not carry them in its metadata.
/// </summary>
public sealed record SidecarJson
{
    [JsonPropertyName("labels")] public string[]? Labels { get; init; }
    [JsonPropertyName("input_size")] public string? InputSize { get; init; }
    [JsonPropertyName("color")] public string? Color { get; init; }
    [JsonPropertyName("resize")] public string? Resize { get; init; }
    [JsonPropertyName("crop_fraction")] public float? CropFraction { get; init; }
    [JsonPropertyName("scale")] public float? Scale { get; init; }
    [JsonPropertyName("mean")] public float[]? Mean { get; init; }
    [JsonPropertyName("std")] public float[]? Std { get; init; }
    [JsonPropertyName("letterbox_fill")] public byte? LetterboxFill { get; init; }
    [JsonPropertyName("output")] public string? Output { get; init; }
}

[JsonSourceGenerationOptions(ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(SidecarJson))]
internal sealed partial class SidecarJsonContext : JsonSerializerContext;

public static class SidecarFile
{
    /// <summary>The sidecar next to <paramref name="modelPath"/>, if there is one.</summary>
    public static string? Find(string modelPath)
    {
        var a = modelPath + ".json";
        if (File.Exists(a)) return a;
        var b = System.IO.Path.ChangeExtension(modelPath, ".json");
        return File.Exists(b) ? b : null;
    }

    /// <exception cref="FormatException">The file is not valid; the message names the file and the key.</exception>
    public static ModelSettings Load(string path)
    {
        SidecarJson? json;
        try
        {
            var bytes = Edge.Onnx.IO.BoundedFile.ReadAll(path, 1 << 20);
            var text = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? bytes.AsSpan(3) : bytes; // a byte-order mark is not JSON
            json = JsonSerializer.Deserialize(text, SidecarJsonContext.Default.SidecarJson);
        }
        catch (JsonException e)
        {
            // In words, with where: STJ's own text names .NET types ("System.Single") and members.
            var at = $"{(e.Path is { Length: > 1 } p ? $" at {p[2..]}" : "")}{(e.LineNumber is { } l ? $" (line {l + 1})" : "")}";
            var what = e.Message.Contains("could not be mapped", StringComparison.Ordinal) ? "an unknown key"
                : e.Message.Contains("could not be converted", StringComparison.Ordinal) ? "a value of the wrong type or out of range"
                : "not valid JSON";
            throw new FormatException($"sidecar '{path}' is not valid: {what}{at}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new FormatException($"sidecar '{path}' is not valid UTF-8 JSON", e);
        }
        if (json is null) throw new FormatException($"sidecar '{path}' is empty");
        var where = $"sidecar '{path}'";
        var settings = new ModelSettings
        {
            Labels = json.Labels is null ? null : ModelSettings.CheckLabels(json.Labels, $"{where} key 'labels'"),
            CropFraction = json.CropFraction,
            Scale = json.Scale,
            Mean = json.Mean,
            Std = json.Std,
            LetterboxFill = json.LetterboxFill,
        };
        if (json.InputSize is not null)
        {
            var (w, h) = ModelSettings.ParseSize(json.InputSize, $"{where} key 'input_size'");
            settings = settings with { Width = w, Height = h };
        }
        if (json.Color is not null)
            settings = settings with { Color = PreprocessingNames.TryParseColor(json.Color, out var c) ? c
                : throw new FormatException($"{where} key 'color' = '{json.Color}': expected rgb, bgr or gray") };
        if (json.Resize is not null)
            settings = settings with { Resize = PreprocessingNames.TryParseResize(json.Resize, out var r) ? r
                : throw new FormatException($"{where} key 'resize' = '{json.Resize}': expected squash, center-crop or letterbox") };
        if (json.Output is not null)
            settings = settings with { Output = PreprocessingNames.TryParseOutput(json.Output, out var o) ? o
                : throw new FormatException($"{where} key 'output' = '{json.Output}': expected logits or probabilities") };
        return settings;
    }
}
