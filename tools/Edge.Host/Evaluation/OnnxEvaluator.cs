using System.Diagnostics;
using Edge.Core.Diagnostics;
using Edge.Core.Inference;
using Edge.Host.Datasets;
using Edge.Onnx.Metadata;

namespace Edge.Host.Evaluation;

/// <summary>Measures an ONNX classifier on a labelled set through <see cref="Classifier"/>: exactly what the daemon runs.</summary>
public static class OnnxEvaluator
{
    public static EvalReport Evaluate(string path, ImageSet set, int[] indices, int threads, int latencyRuns, IProgress<StepProgress>? progress = null)
    {
        using var classifier = Classifier.Load(path, new ClassifierOptions { IntraOpThreads = threads, MaxBatch = 32 });
        var labels = classifier.Model.Labels;
        if (set.Classes is null) throw new DatasetException($"'{set.Name}' is not labelled: evaluation needs class folders or an IDX labels file");
        var map = LabelMatcher.Map(set.Classes, labels);
        var truth = new List<int>();
        var ranked = new List<int[]>();
        using var feeder = new BatchFeeder(set, classifier.Model, classifier.MaxBatch);
        var slotLabels = new List<int>();
        var next = 0;
        while (next < indices.Length)
        {
            var n = feeder.Fill(indices, ref next, slotLabels);
            if (n == 0) continue;
            for (var s = 0; s < n; s++) feeder.Image(s).CopyTo(classifier.InputSlot(s));
            classifier.Run(n);
            for (var s = 0; s < n; s++)
            {
                truth.Add(map[slotLabels[s]]);
                ranked.Add(ClassificationMetrics.Rank(classifier.Scores(s), 5));
            }
            progress?.Report(new StepProgress("evaluating", next, indices.Length));
        }
        var report = ClassificationMetrics.Summarize(path, "onnx", set.Name, labels, [.. truth], [.. ranked], feeder.Skipped);
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
        return new LatencyFigures(classifier.Options.EffectiveIntraOpThreads, Percentile.OfSorted(times, 50), Percentile.OfSorted(times, 90), runs);
    }
}
