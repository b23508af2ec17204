using Edge.Core.Diagnostics;
using Edge.Core.Inference;
using Edge.Host.Datasets;
using Edge.Host.Evaluation;
using Edge.ModelPrep.Data;
using Edge.ModelPrep.Export;
using Edge.ModelPrep.Training;
using Edge.Onnx.Metadata;
using Google.Protobuf;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Evaluation;

/// <summary>
/// Measures a TorchSharp checkpoint on a labelled set, on images preprocessed by Edge.Core; latency
/// from its exported graph in ONNX Runtime. ONNX files are measured by <see cref="OnnxEvaluator"/>.
/// </summary>
public static class CheckpointEvaluator
{
    public static EvalReport Evaluate(string path, ImageSet set, int[] indices, int threads, int latencyRuns, IProgress<StepProgress>? progress = null)
    {
        var (net, state) = Checkpoint.Load(path);
        using var _ = net;
        if (set.Classes is null) throw new DatasetException($"'{set.Name}' is not labelled: evaluation needs class folders or an IDX labels file");
        var map = LabelMatcher.Map(set.Classes, state.Classes);
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
                    ranked.Add(ClassificationMetrics.Rank(logits.AsSpan(s * state.Classes.Count, state.Classes.Count), 5));
                }
            }
        }
        var report = ClassificationMetrics.Summarize(path, "checkpoint", set.Name, state.Classes, [.. truth], [.. ranked], data.Skipped.Count)
            with { Architecture = state.Arch.Describe(), Macs = ModelExporter.CountMacs(net) };
        if (latencyRuns > 0) report = report with { Latency = MeasureLatency(net, state, threads, latencyRuns) };
        return report;
    }

    /// <summary>
    /// Batch-1 latency of a network as the daemon will see it: its exported graph (FP32) in ONNX Runtime with
    /// <paramref name="threads"/> threads. The weights' values do not matter, so untrained candidates measure too.
    /// </summary>
    public static LatencyFigures MeasureLatency(Models.ClassifierNet net, CheckpointState state, int threads, int runs)
    {
        var tmp = Path.Combine(Path.GetTempPath(), $"edge-prep-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(tmp, ModelExporter.ToOnnx(net, new ExportInfo(state.Classes, Preprocessing(state), state.Data, null)).ToByteArray());
            using var classifier = Classifier.Load(tmp, new ClassifierOptions { IntraOpThreads = threads, MaxBatch = 1 });
            return OnnxEvaluator.MeasureLatency(classifier, runs);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    /// <summary>The deployment preprocessing a checkpoint was trained with.</summary>
    public static PreprocessingSpec Preprocessing(CheckpointState state)
    {
        PreprocessingNames.TryParseColor(state.Color, out var color);
        PreprocessingNames.TryParseResize(state.Resize, out var resize);
        return TensorImageSet.Preprocessing(state.Arch.InputSize, color, resize, state.Mean, state.Std);
    }
}
