using System.Text.Json;
using Edge.Core.Diagnostics;
using Edge.Core.Inference;
using Edge.Onnx.IO;
using Microsoft.ML.OnnxRuntime;

namespace Edge.Host.Evaluation;

/// <summary>
/// Where a model's time goes: ONNX Runtime's own profiler over batch-1 runs, each node's kernel time (median over the
/// runs, milliseconds), keyed by the node's name in the graph ONNX Runtime runs: a QDQ group fused into an integer kernel
/// keeps its compute node's name with a suffix (<c>conv1_token_3</c>); FP32 nodes moved to the blocked NCHWc layout are
/// renamed after their outputs, so names are only a guide to the source for integer models. One session measures every
/// node, so a block's share is not blurred by the several percent by which two sessions of the same model differ.
/// </summary>
public static class NodeProfiler
{
    /// <summary>Largest profile read back (ONNX Runtime writes ~300 bytes per node and run).</summary>
    public const long MaxProfileBytes = 512L << 20;

    public static IReadOnlyDictionary<string, double> Profile(byte[] model, int threads, int runs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var folder = Path.Combine(Path.GetTempPath(), $"edge-profile-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        string? file = null;
        try
        {
            using (var so = OrtSessions.Options(threads))
            {
                // The prefix first: ONNX Runtime takes it when profiling is switched on (else it writes to the current folder).
                so.ProfileOutputPathPrefix = Path.Combine(folder, "profile");
                so.EnableProfiling = true;
                using var session = new InferenceSession(model, so);
                var (name, meta) = session.InputMetadata.First();
                var shape = meta.Dimensions.Select(d => d < 0 ? 1L : d).ToArray();
                var data = new float[shape.Aggregate(1L, (a, b) => a * b)];
                Array.Fill(data, 0.1f);
                using var input = OrtValue.CreateTensorValueFromMemory(data, shape);
                var outputs = session.OutputMetadata.Keys.ToArray();
                using var runOptions = new RunOptions();
                for (var i = 0; i < runs; i++)
                {
                    using var results = session.Run(runOptions, [name], [input], outputs);
                }
                file = Path.GetFullPath(session.EndProfiling());
            }
            return KernelTimes(file);
        }
        finally
        {
            try
            {
                if (file is not null && Path.GetDirectoryName(file) != folder) File.Delete(file);
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// Median kernel time per node from an ONNX Runtime profile (Chrome trace events: category Node, name NODE_kernel_time,
    /// duration in µs). A profile that is not one (truncated, foreign) is an <see cref="IOException"/> naming it.
    /// </summary>
    internal static Dictionary<string, double> KernelTimes(string profile)
    {
        const string suffix = "_kernel_time";
        var times = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(BoundedFile.ReadAll(profile, MaxProfileBytes));
            if (doc.RootElement.ValueKind != JsonValueKind.Array) throw Bad("not a list of trace events");
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("cat", out var cat) || cat.ValueKind != JsonValueKind.String || cat.GetString() != "Node") continue;
                if (!e.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String || n.GetString() is not { } full
                    || !full.EndsWith(suffix, StringComparison.Ordinal)) continue;
                if (!e.TryGetProperty("dur", out var dur) || !dur.TryGetDouble(out var us) || !double.IsFinite(us) || us < 0)
                    throw Bad($"event '{full}' has no duration");
                var node = full[..^suffix.Length];
                if (!times.TryGetValue(node, out var list)) times[node] = list = [];
                list.Add(us / 1000);
            }
        }
        catch (JsonException e) { throw Bad($"not JSON ({e.Message})"); }
        return times.ToDictionary(kv => kv.Key, kv => Percentile.Median([.. kv.Value.Order()]), StringComparer.Ordinal);

        IOException Bad(string why) => new($"ONNX Runtime's profile '{profile}': {why}");
    }
}
