using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Onnx.Metadata;

namespace Edge.Core.Inference;

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
        // JSON gave the values types; the one settings reader checks them (ranges, names) as for every other source.
        static string Number(float v) => v.ToString("R", CultureInfo.InvariantCulture);
        var values = new Dictionary<string, string>();
        void Put(string name, string? value) { if (value is not null) values[name] = value; }
        Put(ModelSettings.Names.InputSize, json.InputSize);
        Put(ModelSettings.Names.Color, json.Color);
        Put(ModelSettings.Names.Resize, json.Resize);
        Put(ModelSettings.Names.CropFraction, json.CropFraction is { } cf ? Number(cf) : null);
        Put(ModelSettings.Names.Scale, json.Scale is { } sc ? Number(sc) : null);
        Put(ModelSettings.Names.Mean, json.Mean is { } mean ? string.Join(",", mean.Select(Number)) : null);
        Put(ModelSettings.Names.Std, json.Std is { } std ? string.Join(",", std.Select(Number)) : null);
        Put(ModelSettings.Names.LetterboxFill, json.LetterboxFill?.ToString(CultureInfo.InvariantCulture));
        Put(ModelSettings.Names.Output, json.Output);
        return ModelSettings.Read(values, name => $"sidecar '{path}' key '{name}'", json.Labels);
    }
}
