using System.Diagnostics;
using System.Text.Json.Serialization;
using Edge.Core.Datasets;
using Edge.Core.Imaging;
using Edge.Core.Inference;
using Edge.ModelPrep.Data;
using Edge.ModelPrep.Export;
using Edge.ModelPrep.Models;
using Edge.ModelPrep.Training;
using Edge.Onnx.Metadata;
using Google.Protobuf;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Evaluation;

public sealed record ClassMetrics(
    [property: JsonPropertyName("label")] string Label,
    [property: JsonPropertyName("support")] int Support,
    [property: JsonPropertyName("precision")] double Precision,
    [property: JsonPropertyName("recall")] double Recall,
    [property: JsonPropertyName("f1")] double F1);

public sealed record LatencyFigures(
    [property: JsonPropertyName("threads")] int Threads,
    [property: JsonPropertyName("p50_ms")] double P50Ms,
    [property: JsonPropertyName("p90_ms")] double P90Ms,
    [property: JsonPropertyName("runs")] int Runs);

/// <summary>Everything <c>edge-prep eval</c> measures; written as metrics.json.</summary>
public sealed record EvalReport
{
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("kind")] public required string Kind { get; init; }
    [JsonPropertyName("architecture")] public string? Architecture { get; init; }
    [JsonPropertyName("data")] public required string Data { get; init; }
    [JsonPropertyName("images")] public required int Images { get; init; }
    [JsonPropertyName("skipped")] public int Skipped { get; init; }
    [JsonPropertyName("top1")] public required double Top1 { get; init; }
    [JsonPropertyName("top5")] public required double Top5 { get; init; }
    [JsonPropertyName("macro_f1")] public required double MacroF1 { get; init; }
    [JsonPropertyName("labels")] public required IReadOnlyList<string> Labels { get; init; }
    [JsonPropertyName("per_class")] public required IReadOnlyList<ClassMetrics> PerClass { get; init; }
    /// <summary>confusion[true][predicted].</summary>
    [JsonPropertyName("confusion")] public required int[][] Confusion { get; init; }
    [JsonPropertyName("latency")] public LatencyFigures? Latency { get; init; }
    [JsonPropertyName("macs")] public long? Macs { get; init; }
}

/// <summary>
/// Measures a classifier on a labelled set: a checkpoint (TorchSharp, on images preprocessed by
/// Edge.Core) or an ONNX file (through Edge.Core's <see cref="Classifier"/>: what the daemon runs).
/// </summary>
public static class Evaluator
{
    /// <summary>Top-1/top-5, per-class precision/recall/F1 and the confusion matrix from ranked predictions.</summary>
    public static EvalReport Summarize(string model, string kind, string data, IReadOnlyList<string> labels, int[] truth, int[][] ranked, int skipped = 0)
    {
        var k = labels.Count;
        var confusion = Enumerable.Range(0, k).Select(_ => new int[k]).ToArray();
        var top5 = 0;
        for (var i = 0; i < truth.Length; i++)
        {
            confusion[truth[i]][ranked[i][0]]++;
            if (ranked[i].Take(5).Contains(truth[i])) top5++;
        }
        var perClass = new List<ClassMetrics>();
        for (var c = 0; c < k; c++)
        {
            var tp = confusion[c][c];
            var support = confusion[c].Sum();
            var predicted = confusion.Sum(row => row[c]);
            var precision = predicted == 0 ? 0 : (double)tp / predicted;
            var recall = support == 0 ? 0 : (double)tp / support;
            var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perClass.Add(new ClassMetrics(labels[c], support, precision, recall, f1));
        }
        var correct = Enumerable.Range(0, k).Sum(c => confusion[c][c]);
        var present = perClass.Where(p => p.Support > 0).ToList();
        return new EvalReport
        {
            Model = model, Kind = kind, Data = data, Images = truth.Length, Skipped = skipped,
            Top1 = truth.Length == 0 ? 0 : 100.0 * correct / truth.Length,
            Top5 = truth.Length == 0 ? 0 : 100.0 * top5 / truth.Length,
            MacroF1 = present.Count == 0 ? 0 : present.Average(p => p.F1),
            Labels = labels, PerClass = perClass, Confusion = confusion,
        };
    }

    /// <summary>Maps the data set's labels to the model's output columns by name (or by index when names are plain numbers).</summary>
    public static int[] MapLabels(IReadOnlyList<string> dataClasses, IReadOnlyList<string> modelLabels) => LabelMatcher.Map(dataClasses, modelLabels);

    public static EvalReport EvaluateOnnx(string path, ImageSet set, int[] indices, int threads, int latencyRuns, Action<int, int>? progress = null)
    {
        using var classifier = Classifier.Load(path, new ClassifierOptions { IntraOpThreads = threads, MaxBatch = 32 });
        var labels = classifier.Model.Labels;
        if (set.Classes is null) throw new DatasetException($"'{set.Name}' is not labelled: evaluation needs class folders or an IDX labels file");
        var map = MapLabels(set.Classes, labels);
        var truth = new List<int>();
        var ranked = new List<int[]>();
        var skipped = 0;
        using var decoder = new ImageDecoder();
        using var pixels = new PixelBuffer();
        var hint = ScaleHint.For(classifier.Model.Preprocessing);
        var slotLabels = new int[classifier.MaxBatch];
        var next = 0;
        while (next < indices.Length)
        {
            var n = 0;
            while (n < classifier.MaxBatch && next < indices.Length)
            {
                var index = indices[next++];
                try
                {
                    set.Load(index, decoder, pixels, hint);
                }
                catch (ImageDecodeException)
                {
                    skipped++;
                    continue;
                }
                classifier.Preprocess(pixels.View, n);
                slotLabels[n++] = map[set.Label(index)];
            }
            if (n == 0) break;
            classifier.Run(n);
            for (var s = 0; s < n; s++)
            {
                truth.Add(slotLabels[s]);
                ranked.Add(Rank(classifier.Scores(s), 5));
            }
            progress?.Invoke(next, indices.Length);
        }
        var report = Summarize(path, "onnx", set.Name, labels, [.. truth], [.. ranked], skipped);
        var meta = classifier.Session.ModelMetadata.CustomMetadataMap;
        return report with
        {
            Architecture = meta.TryGetValue(ModelMetadataKeys.Architecture, out var a) ? a : null,
            Macs = meta.TryGetValue(ModelMetadataKeys.Macs, out var m) && long.TryParse(m, out var macs) ? macs : null,
            Latency = latencyRuns > 0 ? MeasureLatency(classifier, latencyRuns) : null,
        };
    }

    /// <summary>Batch-1 inference latency (median and 90th percentile) of an already loaded classifier.</summary>
    public static LatencyFigures MeasureLatency(Classifier classifier, int runs)
    {
        classifier.InputSlot(0).Fill(0.1f);
        for (var i = 0; i < 5; i++) classifier.Infer(1);
        var times = new double[runs];
        for (var i = 0; i < runs; i++)
        {
            var t = Stopwatch.GetTimestamp();
            classifier.Infer(1);
            times[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        }
        Array.Sort(times);
        return new LatencyFigures(classifier.Options.EffectiveIntraOpThreads, times[runs / 2], times[(int)(runs * 0.9)], runs);
    }

    public static EvalReport EvaluateCheckpoint(string path, ImageSet set, int[] indices, int threads, int latencyRuns, Action<int, int>? progress = null)
    {
        var (net, state) = Checkpoint.Load(path);
        using var _ = net;
        if (set.Classes is null) throw new DatasetException($"'{set.Name}' is not labelled: evaluation needs class folders or an IDX labels file");
        var map = MapLabels(set.Classes, state.Classes);
        var preprocessing = Preprocessing(state);
        var data = TensorImageSet.Build(set, preprocessing, progress: progress, subset: indices);
        var loader = new BatchLoader(data, [.. Enumerable.Range(0, data.Count)], 256, AugmentationOptions.None, state.Mean, state.Std, 0, shuffle: false);
        var truth = new List<int>();
        var ranked = new List<int[]>();
        net.eval();
        var shape = new long[] { 0, data.Channels, data.Size, data.Size };
        using (no_grad())
        {
            foreach (var batch in loader.Epoch(0))
            {
                using var scope = NewDisposeScope();
                var logits = net.call(batch.ImagesTensor(shape)).data<float>().ToArray();
                for (var s = 0; s < batch.Count; s++)
                {
                    truth.Add(map[(int)batch.Labels[s]]);
                    ranked.Add(Rank(logits.AsSpan(s * state.Classes.Count, state.Classes.Count), 5));
                }
            }
        }
        var report = Summarize(path, "checkpoint", set.Name, state.Classes, [.. truth], [.. ranked], data.Skipped.Count)
            with { Architecture = state.Arch.Describe(), Macs = ModelExporter.CountMacs(net) };
        if (latencyRuns > 0)
        {
            // Latency is what the daemon will see: the exported graph in ONNX Runtime.
            var tmp = Path.Combine(Path.GetTempPath(), $"edge-prep-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
            try
            {
                File.WriteAllBytes(tmp, ModelExporter.ToOnnx(net, new ExportInfo(state.Classes, preprocessing, state.Data, null)).ToByteArray());
                using var classifier = Classifier.Load(tmp, new ClassifierOptions { IntraOpThreads = threads, MaxBatch = 1 });
                report = report with { Latency = MeasureLatency(classifier, latencyRuns) };
            }
            finally
            {
                File.Delete(tmp);
            }
        }
        return report;
    }

    /// <summary>The deployment preprocessing a checkpoint was trained with.</summary>
    public static PreprocessingSpec Preprocessing(CheckpointState state)
    {
        PreprocessingNames.TryParseColor(state.Color, out var color);
        PreprocessingNames.TryParseResize(state.Resize, out var resize);
        return TensorImageSet.Preprocessing(state.Arch.InputSize, color, resize, state.Mean, state.Std);
    }

    private static int[] Rank(ReadOnlySpan<float> scores, int k)
    {
        var order = Enumerable.Range(0, scores.Length).ToArray();
        var copy = scores.ToArray();
        Array.Sort(order, (a, b) => copy[b].CompareTo(copy[a]) is var c && c != 0 ? c : a.CompareTo(b));
        return order[..Math.Min(k, order.Length)];
    }
}
