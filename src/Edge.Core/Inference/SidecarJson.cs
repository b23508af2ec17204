using System.Text.Json.Serialization;

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
