using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Edge.Cli;
using Edge.Daemon.Cli;
using Edge.Onnx.IO;

namespace Edge.Daemon.Configuration;

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata, UseStringEnumConverter = true)]
[JsonSerializable(typeof(EdgedOptions))]
internal sealed partial class OptionsJson : JsonSerializerContext;

/// <summary>
/// The one settings reader of <c>edged run</c> and <c>check</c>: the JSON file, then EDGED_* environment
/// variables (<c>EDGED_Source__Command</c>), then <c>--Key=Value</c> arguments, checked against the
/// shape of <see cref="EdgedOptions"/> (taken from its source-generated JSON metadata, so the options
/// types are the only schema) and then by <see cref="OptionsValidator"/>. Every unknown key, wrongly
/// typed value and bad setting is reported in one run, each with its key and where it came from.
/// </summary>
public static class OptionsLoader
{
    /// <summary>Largest configuration file read.</summary>
    public const long MaxConfigBytes = 1 << 20;

    public static EdgedOptions Load(string? configPath, IReadOnlyList<string> overrides, IDictionary<string, string?>? environment = null)
    {
        ConfigTree tree;
        if (configPath is not null)
        {
            byte[] bytes;
            try { bytes = BoundedFile.ReadAll(configPath, MaxConfigBytes); }
            catch (IOException e) { throw new CliError($"config file: {e.Message}"); }
            try { tree = ConfigTree.ParseJson(bytes, configPath); }
            catch (FormatException e) { throw new CliError(e.Message); }
        }
        else tree = ConfigTree.Empty("defaults");

        var env = environment ?? Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
        // Only EDGED_Section__Key variables are settings (EDGED_DEBUG and the like are not).
        foreach (var (name, value) in env.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            if (name.StartsWith("EDGED_", StringComparison.Ordinal) && name.Contains("__", StringComparison.Ordinal) && value is not null)
                tree.Set(name["EDGED_".Length..].Replace("__", ":", StringComparison.Ordinal), value, $"environment {name}");

        for (var i = 0; i < overrides.Count; i++)
        {
            var token = overrides[i];
            if (!token.StartsWith("--", StringComparison.Ordinal) || token.Length == 2)
                throw new CliError($"unexpected argument '{token}'; settings are given as --Section:Key=Value (e.g. --Source:Kind=pipe)", ExitCodes.Usage);
            var eq = token.IndexOf('=');
            string key, value;
            if (eq > 2) (key, value) = (token[2..eq], token[(eq + 1)..]);
            else if (i + 1 < overrides.Count && !overrides[i + 1].StartsWith("--", StringComparison.Ordinal)) (key, value) = (token[2..], overrides[++i]);
            else throw new CliError($"argument '{token}' has no value; write --Section:Key=Value", ExitCodes.Usage);
            tree.Set(key.Replace("__", ":", StringComparison.Ordinal), value, $"argument --{key}");
        }

        var errors = new List<string>();
        var failed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var json = Bind(tree, OptionsJson.Default.EdgedOptions, "", errors, failed) ?? new JsonObject();
        var options = json.Deserialize(OptionsJson.Default.EdgedOptions) ?? new EdgedOptions();
        // Checks of values that did not bind would only be about the defaults that replaced them.
        errors.AddRange(OptionsValidator.Validate(options).Where(e => !failed.Any(f => e.StartsWith(f + ":", StringComparison.OrdinalIgnoreCase))));
        if (errors.Count > 0) throw new CliError("config: " + string.Join("; ", errors));
        return options;
    }

    private static JsonNode? Bind(ConfigTree node, JsonTypeInfo type, string path, List<string> errors, HashSet<string> failed)
    {
        if (node.Kind == ConfigTree.NodeKind.Null) return null; // null: not given, the default stays
        var scalarType = Nullable.GetUnderlyingType(type.Type) ?? type.Type;
        JsonNode? Fail(string expected)
        {
            errors.Add($"{path}: expected {expected}, got {Describe(node)} ({node.Origin})");
            failed.Add(path);
            return null;
        }
        switch (type.Kind)
        {
            case JsonTypeInfoKind.Object:
            {
                if (node.Kind != ConfigTree.NodeKind.Object) return Fail("a section { ... }");
                var result = new JsonObject();
                foreach (var (key, child) in node.Children)
                {
                    var childPath = path.Length == 0 ? key : path + ":" + key;
                    var property = type.Properties.FirstOrDefault(p => string.Equals(p.Name, key, StringComparison.OrdinalIgnoreCase));
                    if (property is null)
                    {
                        errors.Add($"{childPath}: unknown key{Suggest(key, type.Properties.Select(p => p.Name))} ({child.Origin})");
                        failed.Add(childPath);
                        continue;
                    }
                    var value = Bind(child, OptionsJson.Default.GetTypeInfo(property.PropertyType)!, path.Length == 0 ? property.Name : path + ":" + property.Name, errors, failed);
                    if (value is not null) result[property.Name] = value;
                }
                return result;
            }
            case JsonTypeInfoKind.Enumerable:
            {
                // A JSON array, or indexed keys from the environment or arguments (Actions:Rules:0:Pin).
                var indexed = new List<(int Index, ConfigTree Value)>();
                if (node.Kind is ConfigTree.NodeKind.Array or ConfigTree.NodeKind.Object)
                    foreach (var (key, child) in node.Children)
                    {
                        if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index > 10_000)
                            return Fail("a list [ ... ] (indexed as :0, :1, ...)");
                        indexed.Add((index, child));
                    }
                else return Fail("a list [ ... ]");
                var element = OptionsJson.Default.GetTypeInfo(type.ElementType!)!;
                var array = new JsonArray();
                foreach (var (index, child) in indexed.OrderBy(x => x.Index))
                    if (Bind(child, element, $"{path}:{index}", errors, failed) is { } value) array.Add(value);
                return array;
            }
            default:
            {
                if (node.Kind is ConfigTree.NodeKind.Object or ConfigTree.NodeKind.Array) return Fail(Expected(scalarType));
                var text = node.Text ?? "";
                if (scalarType == typeof(string)) return JsonValue.Create(text);
                if (scalarType == typeof(bool))
                    return bool.TryParse(text, out var b) ? JsonValue.Create(b) : Fail(Expected(scalarType));
                if (scalarType == typeof(int))
                    return node.Kind != ConfigTree.NodeKind.Bool && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i)
                        ? JsonValue.Create(i) : Fail(Expected(scalarType));
                if (scalarType == typeof(long))
                    return node.Kind != ConfigTree.NodeKind.Bool && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)
                        ? JsonValue.Create(l) : Fail(Expected(scalarType));
                if (scalarType == typeof(double) || scalarType == typeof(float))
                    return node.Kind != ConfigTree.NodeKind.Bool && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
                        && (scalarType == typeof(double) || float.IsFinite((float)d))
                        ? JsonValue.Create(d) : Fail(Expected(scalarType));
                return Fail(Expected(scalarType));
            }
        }
    }

    private static string Expected(Type t) =>
        t == typeof(bool) ? "true or false"
        : t == typeof(int) || t == typeof(long) ? "a whole number"
        : t == typeof(double) || t == typeof(float) ? "a number"
        : "a string";

    private static string Describe(ConfigTree node) => node.Kind switch
    {
        ConfigTree.NodeKind.Object => "a section { ... }",
        ConfigTree.NodeKind.Array => "a list [ ... ]",
        ConfigTree.NodeKind.String => "\"" + Shorten(node.Text ?? "") + "\"",
        _ => Shorten(node.Text ?? "null"),
    };

    /// <summary>A value as it may be shown in an error: at most 40 characters, control characters escaped.</summary>
    private static string Shorten(string s)
    {
        var sb = new StringBuilder();
        foreach (var c in s.Length > 40 ? s[..40] : s)
            sb.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        if (s.Length > 40) sb.Append("...");
        return sb.ToString();
    }

    private static string Suggest(string key, IEnumerable<string> known)
    {
        var names = known.ToList();
        var best = names.Select(n => (Name: n, Distance: Distance(key.ToLowerInvariant(), n.ToLowerInvariant()))).OrderBy(x => x.Distance).FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(2, key.Length / 3)
            ? $" (did you mean {best.Name}?)"
            : $" (known: {string.Join(", ", names)})";
    }

    private static int Distance(string a, string b)
    {
        var d = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) d[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            var previous = d[0];
            d[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var current = d[j];
                d[j] = Math.Min(Math.Min(d[j] + 1, d[j - 1] + 1), previous + (a[i - 1] == b[j - 1] ? 0 : 1));
                previous = current;
            }
        }
        return d[b.Length];
    }
}
