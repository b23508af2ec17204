using System.Diagnostics;
using Edge.Core.Diagnostics;
using Edge.Core.Inference;
using Edge.Host.Datasets;
using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace Edge.Host.Quantization;

/// <summary>Checks what quantization did: fusion into integer kernels, per-layer error, agreement and accuracy, speed.</summary>
public static class QuantizationVerifier
{
    private static readonly HashSet<string> IntegerOps =
        ["QLinearConv", "QGemm", "QLinearMatMul", "MatMulIntegerToFloat", "ConvInteger", "MatMulInteger", "DynamicQuantizeMatMul", "NhwcQLinearConv"];
    private static readonly HashSet<string> FloatComputeOps =
        ["Conv", "FusedConv", "NhwcFusedConv", "Gemm", "FusedGemm", "MatMul", "FusedMatMul"];

    /// <summary>Loads the model as the daemon would (optimisation level ALL) and reads the graph ONNX Runtime actually runs.</summary>
    public static FusionReport CheckFusion(byte[] model, string? keepOptimizedAt = null)
    {
        var path = keepOptimizedAt ?? Path.Combine(Path.GetTempPath(), $"edge-optimized-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        try
        {
            using (OrtSessions.Create(model, 1, path)) { }
            var optimized = OnnxModelFile.Load(path);
            var ops = optimized.Graph.Node.GroupBy(n => n.OpType).OrderByDescending(g => g.Count()).ToDictionary(g => g.Key, g => g.Count());
            var floatNodes = optimized.Graph.Node.Where(n => FloatComputeOps.Contains(n.OpType))
                .Select(n => $"{(n.Name.Length > 0 ? n.Name : n.Output[0])} ({n.OpType})").ToList();
            return new FusionReport(optimized.Graph.Node.Count(n => IntegerOps.Contains(n.OpType)), ops, floatNodes);
        }
        finally
        {
            if (keepOptimizedAt is null) File.Delete(path);
        }
    }

    /// <summary>Per quantized tensor, signal-to-quantization-noise ratio of INT8 against FP32 (like ONNX Runtime's QDQ loss debugger).</summary>
    public static List<LayerError> LayerErrors(ModelProto fp32, ModelProto int8, ModelDescriptor model, IReadOnlyList<(string Tensor, string Producer, string OpType)> tensors,
        ImageSet images, int[] indices, int threads)
    {
        var names = tensors.Select(t => t.Tensor).Where(t => t != model.InputName).ToList();
        using var a = OrtSessions.Create(WithOutputs(fp32, names).ToByteArray(), threads);
        using var b = OrtSessions.Create(WithOutputs(int8, names).ToByteArray(), threads);
        var signal = new double[names.Count];
        var noise = new double[names.Count];
        using var feeder = new BatchFeeder(images, model, 8);
        using var runOptions = new RunOptions(); // one for every batch: each is a native object to dispose
        var next = 0;
        while (next < indices.Length)
        {
            var n = feeder.Fill(indices, ref next);
            if (n == 0) continue;
            var runCount = model.FixedBatch ?? n;
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance,
                new Memory<float>(feeder.Buffer, 0, runCount * feeder.ImageLength), feeder.Shape(n));
            using var ra = a.Run(runOptions, [model.InputName], [input], names);
            using var rb = b.Run(runOptions, [model.InputName], [input], names);
            for (var i = 0; i < names.Count; i++)
            {
                var x = ra[i].GetTensorDataAsSpan<float>();
                var y = rb[i].GetTensorDataAsSpan<float>();
                var valid = x.Length / runCount * n;
                for (var j = 0; j < valid; j++)
                {
                    signal[i] += (double)x[j] * x[j];
                    var d = (double)x[j] - y[j];
                    noise[i] += d * d;
                }
            }
        }
        var byName = tensors.ToDictionary(t => t.Tensor);
        return [.. names.Select((t, i) => new LayerError(t, byName[t].Producer, byName[t].OpType,
            noise[i] == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal[i] / noise[i]),
            signal[i] == 0 ? 0 : Math.Sqrt(noise[i] / signal[i])))];
    }

    /// <summary>A copy of the model that also outputs the named tensors (float, shape left to ONNX Runtime).</summary>
    internal static ModelProto WithOutputs(ModelProto m, IEnumerable<string> names)
    {
        var c = m.Clone();
        foreach (var t in names.Where(t => !c.Graph.Output.Any(o => o.Name == t)))
            c.Graph.Output.Add(new ValueInfoProto
            {
                Name = t,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        return c;
    }

    /// <summary>Top-1 of both models on <paramref name="indices"/>, with accuracy when the set is labelled by the model's classes.</summary>
    public static Agreement Compare(string fp32Path, string int8Path, ImageSet images, int[] indices, int threads, IProgress<StepProgress>? progress = null)
    {
        var options = new ClassifierOptions { IntraOpThreads = threads, MaxBatch = 32 };
        using var a = Classifier.Load(fp32Path, options);
        using var b = Classifier.Load(int8Path, options);
        var labelMap = LabelMap(images, a.Model);
        using var feeder = new BatchFeeder(images, a.Model, a.MaxBatch);
        var labels = new List<int>();
        int total = 0, agree = 0, rightA = 0, rightB = 0, labelled = 0;
        var next = 0;
        while (next < indices.Length)
        {
            var n = feeder.Fill(indices, ref next, labels);
            if (n == 0) continue;
            for (var i = 0; i < n; i++)
            {
                var image = feeder.Image(i);
                image.CopyTo(a.InputSlot(i));
                image.CopyTo(b.InputSlot(i));
            }
            a.Run(n);
            b.Run(n);
            for (var i = 0; i < n; i++)
            {
                var pa = ArgMax(a.Scores(i));
                var pb = ArgMax(b.Scores(i));
                total++;
                if (pa == pb) agree++;
                if (labelMap is not null && labels[i] >= 0)
                {
                    labelled++;
                    var truth = labelMap[labels[i]];
                    if (pa == truth) rightA++;
                    if (pb == truth) rightB++;
                }
            }
            progress?.Report(new StepProgress("evaluating", next, indices.Length));
        }
        if (total == 0) throw new QuantizationException("no evaluation image could be used");
        return new Agreement(total, feeder.Skipped, 100.0 * agree / total,
            labelled > 0 ? 100.0 * rightA / labelled : null, labelled > 0 ? 100.0 * rightB / labelled : null);
    }

    /// <summary>Maps the set's class indices to the model's (<see cref="LabelMatcher"/>).</summary>
    internal static int[]? LabelMap(ImageSet images, ModelDescriptor model) =>
        images.Classes is { } classes ? LabelMatcher.Map(classes, model.Labels) : null;

    private static int ArgMax(ReadOnlySpan<float> s)
    {
        var best = 0;
        for (var i = 1; i < s.Length; i++) if (s[i] > s[best]) best = i;
        return best;
    }

    /// <summary>Median latency (ms) of one inference, batch 1, one thread, for each model: measured alternately in the same run.</summary>
    public static (double Fp32Ms, double Int8Ms) Latency(byte[] fp32, byte[] int8, ModelDescriptor model, int iterations = 50)
    {
        using var a = OrtSessions.Create(fp32, 1);
        using var b = OrtSessions.Create(int8, 1);
        var shape = model.InputShape(model.FixedBatch ?? 1).Select(d => (long)d).ToArray();
        var data = new float[shape.Aggregate(1L, (x, y) => x * y)];
        for (var i = 0; i < data.Length; i++) data[i] = (i % 17) / 17f - 0.5f;
        using var input = OrtValue.CreateTensorValueFromMemory(data, shape);
        var ta = new double[iterations];
        var tb = new double[iterations];
        using var ro = new RunOptions();
        for (var i = -5; i < iterations; i++)
        {
            var t0 = Stopwatch.GetTimestamp();
            using (a.Run(ro, [model.InputName], [input], [model.OutputName])) { }
            var t1 = Stopwatch.GetTimestamp();
            using (b.Run(ro, [model.InputName], [input], [model.OutputName])) { }
            var t2 = Stopwatch.GetTimestamp();
            if (i < 0) continue;
            ta[i] = Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds;
            tb[i] = Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds;
        }
        return (Core.Diagnostics.Percentile.Of(ta, 50), Core.Diagnostics.Percentile.Of(tb, 50));
    }
}
