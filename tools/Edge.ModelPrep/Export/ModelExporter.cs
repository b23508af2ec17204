using System.Globalization;
using Edge.Core.Inference;
using Edge.ModelPrep.Models;
using Edge.Onnx.Metadata;
using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp.Modules;
using static TorchSharp.torch;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.ModelPrep.Export;

/// <summary>
/// Writes a trained network as ONNX (opset 17, dynamic batch, BatchNorm folded) with Edge metadata,
/// and checks that ONNX Runtime gives TorchSharp's outputs before anything is written.
/// </summary>
public static class ModelExporter
{
    public const string InputName = "input";
    public const string OutputName = "logits";

    public static ModelProto ToOnnx(ClassifierNet net, ExportInfo info)
    {
        var spec = net.Spec;
        if (info.Labels.Count != spec.Classes)
            throw new ExportException($"{info.Labels.Count} labels for a network with {spec.Classes} outputs");
        if (info.Preprocessing.Channels != spec.Channels || info.Preprocessing.Width != spec.InputSize || info.Preprocessing.Height != spec.InputSize)
            throw new ExportException($"preprocessing ({info.Preprocessing}) does not match the network's input {spec.InputSize}x{spec.InputSize}x{spec.Channels}");
        var g = new GraphBuilder(spec.Arch) { ProducerName = "edge-prep", DocString = $"{spec.Describe()}, trained on {info.TrainingData}" };
        var x = g.Input(InputName, DataType.Float, "batch", spec.Channels, spec.InputSize, spec.InputSize);
        net.eval();
        string y;
        using (no_grad()) y = net.Export(new OnnxEmitter(g), "", x);
        // A fixed output name whatever the architecture's last layer is called (ONNX Runtime drops the Identity).
        var logits = g.Node("Identity", [y], OutputName, "output");
        g.Output(logits, DataType.Float, "batch", spec.Classes);
        var settings = info.Preprocessing.ToSettings() with { Labels = info.Labels, Output = OutputKind.Logits };
        g.Metadata(settings.ToMetadata());
        g.Metadata(ModelMetadataKeys.Architecture, spec.Describe());
        g.Metadata(ModelMetadataKeys.TrainingData, info.TrainingData);
        if (info.Accuracy is { } a) g.Metadata(ModelMetadataKeys.Accuracy, a.ToString("0.####", CultureInfo.InvariantCulture));
        g.Metadata(ModelMetadataKeys.Macs, CountMacs(net).ToString(CultureInfo.InvariantCulture));
        return g.Build();
    }

    /// <summary>
    /// Multiply-accumulates of one image counted from the network itself (forward hooks on every
    /// Conv2d and Linear), independently of the ONNX graph: conv = H'·W'·C_out·(C_in/groups)·k², linear = in·out.
    /// </summary>
    public static long CountMacs(ClassifierNet net)
    {
        long macs = 0;
        var removers = new List<Action>();
        foreach (var (_, m) in net.named_modules())
        {
            switch (m)
            {
                case Conv2d c:
                    var perOutput = c.in_channels / c.groups * c.kernel_size.Aggregate(1L, (a, b) => a * b);
                    var hc = c.register_forward_hook((_, _, output) => { macs += output.numel() / output.shape[0] * perOutput; return output; });
                    removers.Add(hc.remove);
                    break;
                case Linear l:
                    var hl = l.register_forward_hook((_, _, output) => { macs += l.in_features * l.out_features; return output; });
                    removers.Add(hl.remove);
                    break;
            }
        }
        try
        {
            var spec = net.Spec;
            var wasTraining = net.training;
            net.eval();
            using (no_grad())
            using (var scope = NewDisposeScope())
                net.call(zeros(1, spec.Channels, spec.InputSize, spec.InputSize));
            net.train(wasTraining);
        }
        finally
        {
            foreach (var r in removers) r();
        }
        return macs;
    }

    /// <summary>
    /// Runs <paramref name="inputs"/> (real images, NCHW) and <paramref name="randomInputs"/> seeded
    /// normal tensors through both TorchSharp and ONNX Runtime and compares the logits.
    /// </summary>
    public static ParityResult CheckParity(ClassifierNet net, ModelProto model, float[] inputs, int images, int randomInputs = 8, int seed = 0)
    {
        var spec = net.Spec;
        var per = spec.Channels * spec.InputSize * spec.InputSize;
        if (inputs.Length != images * per) throw new ArgumentException("inputs do not hold the stated number of images");
        var random = new float[randomInputs * per];
        var rng = new Random(seed);
        for (var i = 0; i < random.Length; i++) random[i] = (float)(rng.NextDouble() * 2 - 1) * 2.5f;
        using var session = OrtSessions.Create(model.ToByteArray(), intraOpThreads: 1);
        net.eval();
        double maxDiff = 0, maxScaledRandom = 0;
        var disagreements = 0;
        foreach (var (data, count, isRandom) in new[] { (inputs, images, false), (random, randomInputs, true) })
        {
            for (var start = 0; start < count; start += 32)
            {
                var n = Math.Min(32, count - start);
                var chunk = data.AsSpan(start * per, n * per).ToArray();
                float[] expected;
                using (no_grad())
                using (var scope = NewDisposeScope())
                    expected = net.call(tensor(chunk, [n, spec.Channels, spec.InputSize, spec.InputSize])).data<float>().ToArray();
                var input = new DenseTensor<float>(chunk, [n, spec.Channels, spec.InputSize, spec.InputSize]);
                using var results = session.Run([NamedOnnxValue.CreateFromTensor(InputName, input)]);
                var actual = results.First().AsEnumerable<float>().ToArray();
                var scale = isRandom ? Math.Max(1.0, expected.Max(Math.Abs)) : 1.0;
                for (var i = 0; i < expected.Length; i++)
                {
                    var d = Math.Abs(expected[i] - actual[i]);
                    if (isRandom) maxScaledRandom = Math.Max(maxScaledRandom, d / scale);
                    else maxDiff = Math.Max(maxDiff, d);
                }
                for (var r = 0; r < n && !isRandom; r++)
                    if (ArgMax(expected.AsSpan(r * spec.Classes, spec.Classes)) != ArgMax(actual.AsSpan(r * spec.Classes, spec.Classes)))
                        disagreements++;
            }
        }
        return new ParityResult(maxDiff, maxScaledRandom, images, randomInputs, disagreements);
    }

    private static int ArgMax(ReadOnlySpan<float> v)
    {
        var best = 0;
        for (var i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
