using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Cli;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Models;

public sealed record AcceptedModel(string Sha256, string Origin, DateTimeOffset AcceptedAt, string? Version);

/// <summary>
/// What <c>active.json</c> remembers: the configured model it was accepted over (so that a new Model:Path
/// wins over an old update), the last proven update, and the one before it.
/// </summary>
public sealed record ActiveModels(string ConfiguredPath, string ConfiguredSha256, AcceptedModel? Current, AcceptedModel? Previous);

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata, PropertyNamingPolicy = JsonNaming.Policy, WriteIndented = true)]
[JsonSerializable(typeof(ActiveModels))]
internal sealed partial class ModelStoreJson : JsonSerializerContext;

/// <summary>The model the daemon starts with: a file, where it came from, its hash, and the model it had replaced (when remembered).</summary>
public sealed record StartModel(string Path, string Origin, string Sha256, ModelIdentity? Previous = null);

/// <summary>
/// The accepted models of one daemon, in its state directory (<c>models/</c>): each kept as
/// <c>SHA256.onnx</c>, a copy of its own (the dropped or uploaded file may change or go), and
/// <c>active.json</c>, written atomically once a model has proven itself, so that a restart (even one
/// caused by a new model crashing the process) comes back on the last good model. File names are made
/// from hashes, never from names given from outside.
/// </summary>
public sealed class ModelStore(string directory)
{
    public const string ActiveFile = "active.json";
    private const long MaxActiveBytes = 64 * 1024;

    public string Directory { get; } = System.IO.Path.GetFullPath(directory);

    public static bool IsSha256(string? s) => s is { Length: 64 } && s.All(char.IsAsciiHexDigitLower);

    public string PathOf(string sha256) => IsSha256(sha256)
        ? System.IO.Path.Combine(Directory, sha256 + ".onnx")
        : throw new ArgumentException($"'{sha256}' is not a lower-case SHA-256", nameof(sha256));

    /// <summary>Keeps a copy of an accepted model's bytes (atomically: never half a model under its name).</summary>
    public string Keep(string sha256, byte[] bytes)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = PathOf(sha256);
        if (Onnx.IO.BoundedFile.Probe(path) is { IsRegular: true } p && p.Size == bytes.Length && ModelIdentity.HashFile(path) == sha256) return path;
        Onnx.IO.AtomicFile.Write(path, bytes);
        return path;
    }

    /// <summary>The remembered state, or null when there is none or it cannot be read (said).</summary>
    public ActiveModels? Read(ILogger logger)
    {
        var path = System.IO.Path.Combine(Directory, ActiveFile);
        if (!File.Exists(path)) return null;
        try
        {
            var active = JsonSerializer.Deserialize(Onnx.IO.BoundedFile.ReadAll(path, MaxActiveBytes), ModelStoreJson.Default.ActiveModels);
            // Written by edged, but a file on disk is checked like any input: hashes, and origins short and printable.
            static bool Valid(AcceptedModel? m) => m is null || (IsSha256(m.Sha256) && m.Origin is { Length: > 0 and <= 100 } o && !o.Any(char.IsControl)
                && (m.Version is null || (m.Version.Length <= 100 && !m.Version.Any(char.IsControl))));
            if (active is null || active.ConfiguredPath is null || active.ConfiguredSha256 is null || !Valid(active.Current) || !Valid(active.Previous))
                throw new JsonException("a field is missing or not what edged writes");
            return active;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            logger.LogWarning("Model updates: '{Path}' cannot be read ({Reason}); starting on the configured model", path, e.Message);
            return null;
        }
    }

    public void Write(ActiveModels active)
    {
        System.IO.Directory.CreateDirectory(Directory);
        Onnx.IO.AtomicFile.Write(System.IO.Path.Combine(Directory, ActiveFile), JsonSerializer.SerializeToUtf8Bytes(active, ModelStoreJson.Default.ActiveModels));
    }

    /// <summary>Deletes kept models other than <paramref name="keep"/> (only files this store named: SHA256.onnx).</summary>
    public void Prune(IEnumerable<string?> keep)
    {
        var wanted = keep.Where(IsSha256).ToHashSet(StringComparer.Ordinal);
        if (!System.IO.Directory.Exists(Directory)) return;
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "*.onnx"))
        {
            var name = System.IO.Path.GetFileNameWithoutExtension(file);
            if (!IsSha256(name) || wanted.Contains(name)) continue;
            try { File.Delete(file); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// The model to start with: the last proven update when it was accepted over the model configured now
    /// (same path, same contents) and its kept copy is intact; otherwise the configured model. Said either way.
    /// </summary>
    public StartModel ResolveStart(StartModel start, ILogger logger)
    {
        // The configured model as the caller found it (full path, hash): not read and hashed a second time.
        var (configured, configuredSha) = (start.Path, start.Sha256);
        if (Read(logger) is not { Current: { } current } active) return start;
        if (active.ConfiguredPath != configured || active.ConfiguredSha256 != configuredSha)
        {
            logger.LogInformation("Model updates: Model:Path ('{Path}') changed since model {Sha} was accepted; running the configured model", configured,
                IsSha256(current.Sha256) ? current.Sha256[..12] : "?");
            return start;
        }
        if (!IsSha256(current.Sha256) || ModelIdentity.HashFile(PathOf(current.Sha256)) != current.Sha256)
        {
            logger.LogWarning("Model updates: the kept copy of model {Sha} is missing or damaged; running the configured model '{Path}'",
                IsSha256(current.Sha256) ? current.Sha256[..12] : "?", configured);
            return start;
        }
        // The model it replaced, as remembered (its class count is not: it is not loaded).
        var previous = active.Previous is { } p
            ? new ModelIdentity(p.Sha256, File.Exists(PathOf(p.Sha256)) ? PathOf(p.Sha256) : "", p.Origin, p.Version, null, null, null, p.AcceptedAt)
            : null;
        return new StartModel(PathOf(current.Sha256), current.Origin, current.Sha256, previous);
    }
}
