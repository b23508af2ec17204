using System.Text.Json;
using Edge.Core.Inference;
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
        try
        {
            string file;
            using (var so = OrtSessions.Options(threads))
            {
                so.EnableProfiling = true;
                so.ProfileOutputPathPrefix = Path.Combine(folder, "profile");
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
                file = session.EndProfiling();
            }
            var path = Path.IsPathRooted(file) ? file : Path.Combine(Environment.CurrentDirectory, file);
            if (new FileInfo(path).Length > MaxProfileBytes) throw new InvalidOperationException($"ONNX Runtime's profile '{path}' is over {MaxProfileBytes >> 20} MiB");
            return KernelTimes(path);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Median kernel time per node from an ONNX Runtime profile (Chrome trace events: category Node, name NODE_kernel_time, duration in µs).</summary>
    internal static Dictionary<string, double> KernelTimes(string profile)
    {
        const string suffix = "_kernel_time";
        using var stream = File.OpenRead(profile);
        using var doc = JsonDocument.Parse(stream);
        var times = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (!e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node") continue;
            if (e.GetProperty("name").GetString() is not { } n || !n.EndsWith(suffix, StringComparison.Ordinal)) continue;
            var node = n[..^suffix.Length];
            if (!times.TryGetValue(node, out var list)) times[node] = list = [];
            list.Add(e.GetProperty("dur").GetDouble() / 1000);
        }
        return times.ToDictionary(kv => kv.Key, kv => Core.Diagnostics.Percentile.OfSorted([.. kv.Value.Order()], 50), StringComparer.Ordinal);
    }
}
