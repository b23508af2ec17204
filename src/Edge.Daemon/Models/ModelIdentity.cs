using Edge.Core.Inference;

namespace Edge.Daemon.Models;

/// <summary>
/// Which model is running: the SHA-256 of its file (what a manifest or an operator compares), what its
/// metadata says it is, where it came from and when it was loaded. Shown by /api/status and stored
/// with every result (the short hash), so that any result can be traced to the model that made it.
/// </summary>
public sealed record ModelIdentity(string Sha256, string File, string Origin, string? Version, string? Architecture, string? Accuracy,
    int? Classes, DateTimeOffset LoadedAt)
{
    /// <summary>The first 12 hex digits: what results carry (unique enough among one device's models).</summary>
    public string Short { get; } = Sha256.Length >= 12 ? Sha256[..12] : Sha256;

    public static ModelIdentity Of(Classifier classifier, string sha256, string origin, DateTimeOffset loadedAt)
    {
        var meta = classifier.Model.Metadata;
        return new ModelIdentity(sha256, classifier.Model.Path, origin, meta.GetValueOrDefault(Onnx.Metadata.ModelMetadataKeys.Version),
            meta.GetValueOrDefault(Onnx.Metadata.ModelMetadataKeys.Architecture), meta.GetValueOrDefault(Onnx.Metadata.ModelMetadataKeys.Accuracy),
            classifier.ClassCount, loadedAt);
    }

    public static string Hash(ReadOnlySpan<byte> bytes) => Sha256Hasher.Hex(bytes);

    /// <summary>The hash of a file, streamed (a model may be large); null when it cannot be read.</summary>
    public static string? HashFile(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            return Sha256Hasher.Hex(stream);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
