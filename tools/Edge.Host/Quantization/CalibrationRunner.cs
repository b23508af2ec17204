using Edge.Core.Diagnostics;
using Edge.Core.Inference;
using Edge.Host.Datasets;
using Edge.Host.Quantization;
using Edge.Onnx.Protos;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace Edge.Host.Quantization;

/// <summary>
/// Runs the prepared FP32 model over calibration images and gathers, for every tensor to be
/// quantized, its statistics: one pass for min/max, and for percentile or entropy a second pass
/// filling a fixed 2048-bin histogram. Activations are never kept beyond the batch that made them.
/// </summary>
public static class CalibrationRunner
{
    public static Dictionary<string, TensorStatistics> Run(ModelProto prepared, ModelDescriptor model, IReadOnlyList<string> tensors,
        ImageSet images, int[] indices, CalibrationMethod method, int threads, IProgress<StepProgress>? progress,
        out int used, out int skipped, out List<string> skipReasons)
    {
        var inputName = model.InputName;
        var outputs = tensors.Where(t => t != inputName).ToList();
        var calibration = QuantizationVerifier.WithOutputs(prepared, outputs);
        using var session = OrtSessions.Create(calibration.ToByteArray(), threads);
        var stats = tensors.ToDictionary(t => t, _ => new TensorStatistics());
        var passes = method == CalibrationMethod.MinMax ? 1 : 2;
        used = 0;
        skipped = 0;
        skipReasons = [];

        using var runOptions = new RunOptions(); // one for every batch: each is a native object to dispose
        for (var pass = 0; pass < passes; pass++)
        {
            if (pass == 1)
                foreach (var s in stats.Values) s.BeginHistogram(absolute: method == CalibrationMethod.Entropy);
            using var feeder = new BatchFeeder(images, model, 16);
            var next = 0;
            var done = 0;
            while (next < indices.Length)
            {
                var n = feeder.Fill(indices, ref next);
                if (n == 0) continue;
                var runCount = model.FixedBatch ?? n;
                var length = runCount * feeder.ImageLength;
                using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(feeder.Buffer, 0, length), feeder.Shape(n));
                using var results = session.Run(runOptions, [inputName], [input], outputs);
                var valid = n * feeder.ImageLength;
                Observe(stats, inputName, feeder.Buffer.AsSpan(0, valid), pass);
                for (var i = 0; i < outputs.Count; i++)
                {
                    var span = results[i].GetTensorDataAsSpan<float>();
                    // With a fixed batch larger than the images loaded, only the first n images count.
                    var per = span.Length / runCount;
                    Observe(stats, outputs[i], span[..(per * n)], pass);
                }
                done += n;
                progress?.Report(new StepProgress(pass == 0 ? "calibrating (ranges)" : "calibrating (histograms)", next, indices.Length));
            }
            if (pass == 0)
            {
                used = done;
                skipped = feeder.Skipped;
                skipReasons = feeder.SkipReasons;
                if (done == 0)
                    throw new QuantizationException(
                        $"no calibration image could be used ({feeder.Skipped} failed to decode{(feeder.SkipReasons.Count > 0 ? "; first: " + feeder.SkipReasons[0] : "")})");
            }
        }
        return stats;
    }

    private static void Observe(Dictionary<string, TensorStatistics> stats, string name, ReadOnlySpan<float> values, int pass)
    {
        if (!stats.TryGetValue(name, out var s)) return;
        if (pass == 0) s.ObserveRange(values); else s.ObserveHistogram(values);
    }
}
