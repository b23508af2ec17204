using System.Text;
using System.Text.Json;

namespace Edge.Daemon.Configuration;

/// <summary>
/// Configuration as a tree before it is checked: what the JSON file, the EDGED_* environment variables
/// and --Key=Value arguments said, later sources replacing earlier ones key by key (case-insensitive,
/// as ASP.NET configuration does). Every value remembers where it came from, so an error can say
/// "edged.json line 4" or "--Source:Fps".
/// </summary>
internal sealed class ConfigTree
{
    public enum NodeKind { Object, Array, String, Number, Bool, Null }

    public NodeKind Kind { get; private set; }
    /// <summary>The scalar's text (numbers as written, booleans as true/false).</summary>
    public string? Text { get; private set; }
    public string Origin { get; private set; }
    /// <summary>Object members or array elements ("0", "1", ...), in the order first given.</summary>
    public List<KeyValuePair<string, ConfigTree>> Children { get; } = [];

    private ConfigTree(NodeKind kind, string origin, string? text = null)
    {
        Kind = kind;
        Origin = origin;
        Text = text;
    }

    public static ConfigTree Empty(string origin) => new(NodeKind.Object, origin);

    public ConfigTree? Child(string key)
    {
        foreach (var (k, v) in Children)
            if (string.Equals(k, key, StringComparison.OrdinalIgnoreCase)) return v;
        return null;
    }

    private void SetChild(string key, ConfigTree value)
    {
        for (var i = 0; i < Children.Count; i++)
            if (string.Equals(Children[i].Key, key, StringComparison.OrdinalIgnoreCase))
            {
                Children[i] = new(Children[i].Key, value);
                return;
            }
        Children.Add(new(key, value));
    }

    /// <summary>Sets <paramref name="path"/> ("Source:Fps") to a string value, creating sections on the way.</summary>
    public void Set(string path, string value, string origin)
    {
        var parts = path.Split(':');
        var node = this;
        for (var i = 0; i < parts.Length - 1; i++)
        {
            var next = node.Child(parts[i]);
            if (next is null || next.Kind is not (NodeKind.Object or NodeKind.Array))
            {
                next = new ConfigTree(NodeKind.Object, origin);
                node.SetChild(parts[i], next);
            }
            node = next;
        }
        node.SetChild(parts[^1], new ConfigTree(NodeKind.String, origin, value));
    }

    /// <summary>Parses a JSON configuration file (comments and trailing commas allowed).</summary>
    /// <exception cref="FormatException">Not valid JSON; the message gives the line and column.</exception>
    public static ConfigTree ParseJson(byte[] utf8, string fileName)
    {
        if (utf8.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) utf8 = utf8[3..]; // a byte-order mark is not JSON
        var lines = new LineIndex(utf8);
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = 32 });
        try
        {
            if (!reader.Read()) throw new FormatException($"config file '{fileName}' is empty; it must hold a JSON object such as {{ \"Model\": {{ ... }} }}");
            if (reader.TokenType != JsonTokenType.StartObject)
                throw new FormatException($"config file '{fileName}' must hold a JSON object ({{ ... }}), not {Describe(reader.TokenType)} ({lines.At(reader.TokenStartIndex)})");
            var root = ReadValue(ref reader, fileName, lines);
            if (reader.Read())
                throw new FormatException($"config file '{fileName}' has more after its object ({lines.At(reader.TokenStartIndex)})");
            return root;
        }
        catch (InvalidOperationException e)
        {
            throw new FormatException($"config file '{fileName}' is not valid UTF-8 text", e);
        }
        catch (JsonException e)
        {
            // Line and column from the reader (0-based there); the reader's own words, without its position suffix.
            var message = e.Message;
            var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
            if (cut < 0) cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (cut > 0) message = message[..cut];
            var where = e.LineNumber is { } line ? $"line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}" : "at the end";
            throw new FormatException($"config file '{fileName}' is not valid JSON at {where}: {message.TrimEnd('.', ' ')}", e);
        }
    }

    private static ConfigTree ReadValue(ref Utf8JsonReader reader, string file, LineIndex lines)
    {
        var origin = $"{file} {lines.At(reader.TokenStartIndex)}";
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
            {
                var node = new ConfigTree(NodeKind.Object, origin);
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var at = lines.At(reader.TokenStartIndex);
                    var key = reader.GetString()!;
                    // A key given twice would silently keep the last: say which.
                    if (node.Child(key) is { } earlier)
                        throw new FormatException($"config file '{file}': key '{key}' is given twice in one section ({earlier.Origin[(file.Length + 1)..]} and {at})");
                    reader.Read();
                    node.SetChild(key, ReadValue(ref reader, file, lines));
                }
                return node;
            }
            case JsonTokenType.StartArray:
            {
                var node = new ConfigTree(NodeKind.Array, origin);
                var i = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    node.Children.Add(new((i++).ToString(System.Globalization.CultureInfo.InvariantCulture), ReadValue(ref reader, file, lines)));
                return node;
            }
            case JsonTokenType.String:
                return new ConfigTree(NodeKind.String, origin, reader.GetString());
            case JsonTokenType.Number:
                return new ConfigTree(NodeKind.Number, origin, Encoding.UTF8.GetString(reader.ValueSpan));
            case JsonTokenType.True or JsonTokenType.False:
                return new ConfigTree(NodeKind.Bool, origin, reader.TokenType == JsonTokenType.True ? "true" : "false");
            default:
                return new ConfigTree(NodeKind.Null, origin);
        }
    }

    private static string Describe(JsonTokenType t) => t switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => t.ToString(),
    };

    /// <summary>Byte offset → "line L" (1-based), for values' origins.</summary>
    private sealed class LineIndex
    {
        private readonly List<long> _starts = [0];

        public LineIndex(byte[] text)
        {
            for (var i = 0; i < text.Length; i++)
                if (text[i] == (byte)'\n') _starts.Add(i + 1);
        }

        public string At(long offset)
        {
            var i = _starts.BinarySearch(offset);
            var line = i >= 0 ? i : ~i - 1;
            return $"line {line + 1}";
        }
    }
}
