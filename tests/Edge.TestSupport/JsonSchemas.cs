using NUnit.Framework;

namespace Edge.TestSupport;

/// <summary>
/// Checks a tool's JSON output against its documented schema in docs/json with an independent
/// validator (Python's jsonschema): every name the output has must be documented, with its type,
/// and every required one present. A renamed field fails here, not in a user's script.
/// </summary>
public static class JsonSchemas
{
    public static void AssertValid(string json, string schema) =>
        Assert.That(Errors(json, schema), Is.Empty, $"output does not match docs/json/{schema}.schema.json");

    /// <summary>What the validator finds wrong with <paramref name="json"/> (at most 10 lines).</summary>
    public static IReadOnlyList<string> Errors(string json, string schema)
    {
        var path = Path.Combine(RepoPaths.Root, "docs", "json", schema + ".schema.json");
        Assert.That(File.Exists(path), Is.True, $"no documented schema {path}");
        using var dir = new TempDir();
        var instance = dir.File("output.json");
        File.WriteAllText(instance, json);
        var result = Python.Run("""
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))), key=lambda e: list(e.path))
            for e in errors[:10]:
                print("/".join(str(p) for p in e.path) + ": " + e.message)
            """, path, instance);
        return result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}
