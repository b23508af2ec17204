using System.Globalization;
using System.Text.Json;
using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using Edge.Host.Quantization;
using Microsoft.ML.OnnxRuntime;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.Host.Tests;

public class QdqQuantizerTests
{
    /// <summary>x[1,1,2,2] → Conv(W=[0.5,-2] 1x1, B=[0.1,0.3]) → y[1,2,2,2] → GlobalAveragePool → Flatten → out.</summary>
    private static ModelProto TinyConv()
    {
        var g = new GraphBuilder("tiny");
        var x = g.Input("x", DataType.Float, 1, 1, 2, 2);
        g.Initializer("W", [0.5f, -2f], 2, 1, 1, 1);
        g.Initializer("B", [0.1f, 0.3f], 2);
        var y = g.Node("Conv", [x, "W", "B"], "y", "conv");
        var p = g.Node("GlobalAveragePool", [y], "p", "pool");
        g.Output(g.Node("Flatten", [p], "out", "flatten"), DataType.Float, 1, 2);
        return g.Build();
    }

    private static T Init<T>(ModelProto m, string name, Func<TensorProto, T> read) => read(m.Graph.Initializer.Single(t => t.Name == name));

    [Test]
    public void ScalesZeroPointsAndBiasAreWhatWeComputeByHand()
    {
        var ranges = new Dictionary<string, (float, float)> { ["x"] = (0f, 2.55f), ["y"] = (-5.1f, 0f), ["p"] = (-5.1f, 0f) };
        var r = QdqQuantizer.Quantize(TinyConv(), ranges, new QdqOptions());
        var m = r.Model;
        // Input: [0, 2.55] → scale 0.01, zero point 0 (uint8).
        Assert.That(Init(m, "x_scale", TensorData.ToFloats), Is.EqualTo(new[] { 0.01f }).Within(1e-7f));
        Assert.That(Init(m, "x_zero_point", t => t.RawData.ToByteArray()), Is.EqualTo(new byte[] { 0 }));
        // y: [-5.1, 0] → scale 0.02, zero point 255.
        Assert.That(Init(m, "y_scale", TensorData.ToFloats), Is.EqualTo(new[] { 0.02f }).Within(1e-7f));
        Assert.That(Init(m, "y_zero_point", t => t.RawData.ToByteArray()), Is.EqualTo(new byte[] { 255 }));
        // Weights per output channel, 7 bits by default: 0.5/63 and 2/63, codes 63 and -63.
        Assert.That(Init(m, "W_scale", TensorData.ToFloats), Is.EqualTo(new[] { 0.5f / 63, 2f / 63 }).Within(1e-9f));
        Assert.That(Init(m, "W_quantized", t => t.RawData.ToByteArray().Select(b => (sbyte)b).ToArray()), Is.EqualTo(new sbyte[] { 63, -63 }));
        // Bias int32 with scale input × weight: 0.1 / (0.01 × 0.5/63) = 1260, 0.3 / (0.01 × 2/63) = 945.
        var biasScale = Init(m, "B_scale", TensorData.ToFloats);
        Assert.That(biasScale, Is.EqualTo(new[] { 0.01f * 0.5f / 63, 0.01f * 2f / 63 }).Within(1e-10f));
        var bq = Init(m, "B_quantized", t => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(t.RawData.Span).ToArray());
        Assert.That(bq, Is.EqualTo(new[] { 1260, 945 }));
        // 8 bits when asked: 0.5/127 and 2/127, codes ±127, bias 2540 and 1905.
        var m8 = QdqQuantizer.Quantize(TinyConv(), ranges, new QdqOptions { WeightBits = 8 }).Model;
        Assert.That(Init(m8, "W_scale", TensorData.ToFloats), Is.EqualTo(new[] { 0.5f / 127, 2f / 127 }).Within(1e-9f));
        Assert.That(Init(m8, "W_quantized", t => t.RawData.ToByteArray().Select(b => (sbyte)b).ToArray()), Is.EqualTo(new sbyte[] { 127, -127 }));
        Assert.That(Init(m8, "B_quantized", t => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(t.RawData.Span).ToArray()), Is.EqualTo(new[] { 2540, 1905 }));
        var dq = m.Graph.Node.Single(n => n.OpType == "DequantizeLinear" && n.Input[0] == "W_quantized");
        Assert.That(dq.Attribute.Single(a => a.Name == "axis").I, Is.EqualTo(0));
        Assert.That(r.Weights.Single().BiasQuantized, Is.True);
    }

    [TestCase(1, 0)]
    [TestCase(0, 1)]
    public void GemmWeightsArePerOutputColumn(int transB, int expectedAxis)
    {
        var g = new GraphBuilder();
        var x = g.Input("x", DataType.Float, 1, 3, 4, 4);
        var p = g.Node("Flatten", [g.Node("GlobalAveragePool", [x], "p")], "f");
        g.Initializer("B", [.. Enumerable.Range(0, 6).Select(i => i - 2.5f)], transB == 1 ? [2, 3] : [3, 2]);
        g.Output(g.Node("Gemm", [p, "B"], "y", "fc", Attr.Int("transB", transB)), DataType.Float, 1, 2);
        var ranges = new Dictionary<string, (float, float)> { ["x"] = (0f, 1f), ["p"] = (0f, 1f), ["f"] = (0f, 1f) };
        var r = QdqQuantizer.Quantize(g.Build(), ranges, new QdqOptions());
        Assert.That(r.Weights.Single().Axis, Is.EqualTo(expectedAxis));
        Assert.That(r.Weights.Single().Channels, Is.EqualTo(2));
    }

    [Category(Needs.Python)]
    [Test]
    public void WrittenModelsPassTheCheckerAndRunInOnnxRuntime()
    {
        using var dir = new TempDir();
        var prepared = GraphPreparer.Prepare(TestModels.SmallConvNet(), out _);
        var plan = new QdqPlan(prepared, new HashSet<string>());
        var ranges = plan.CalibratedTensors.ToDictionary(t => t, _ => (-2f, 2f));
        foreach (var type in new[] { ActivationType.UInt8, ActivationType.Int8 })
        {
            var path = dir.File($"q-{type}.onnx");
            OnnxModelFile.Save(QdqQuantizer.Quantize(prepared, ranges, new QdqOptions { Activations = type }).Model, path);
            Python.CheckModel(path);
            using var session = new InferenceSession(path);
            using var input = OrtValue.CreateTensorValueFromMemory(new float[3 * 32 * 32], [1, 3, 32, 32]);
            using var output = session.Run(new RunOptions(), ["input"], [input], ["logits"]);
            Assert.That(output[0].GetTensorDataAsSpan<float>().Length, Is.EqualTo(10));
        }
    }

    [Test]
    public void ExcludedNodesStayFloat()
    {
        var prepared = GraphPreparer.Prepare(TestModels.SmallConvNet(), out _);
        var ranges = new QdqPlan(prepared, new HashSet<string>()).CalibratedTensors.ToDictionary(t => t, _ => (-2f, 2f));
        var r = QdqQuantizer.Quantize(prepared, ranges, new QdqOptions { Exclude = new HashSet<string> { "conv2" } });
        Assert.That(r.Weights.Select(w => w.Node), Is.EquivalentTo(new[] { "conv1", "fc" }));
        Assert.That(r.FloatComputeNodes, Has.Some.Contains("conv2 (Conv): excluded"));
        var conv2 = r.Model.Graph.Node.Single(n => n.Name == "conv2");
        Assert.That(r.Model.Graph.Initializer.Any(t => t.Name == conv2.Input[1] && t.DataType == (int)DataType.Float), Is.True);
    }

    [Test]
    public void BatchNormIsFoldedWithoutChangingTheOutput()
    {
        var rng = new Random(11);
        float[] R(int n, float lo, float hi) => [.. Enumerable.Range(0, n).Select(_ => lo + (hi - lo) * rng.NextSingle())];
        var g = new GraphBuilder();
        var x = g.Input("x", DataType.Float, 1, 3, 8, 8);
        g.Initializer("w", R(4 * 3 * 9, -1, 1), 4, 3, 3, 3);
        g.Initializer("gamma", R(4, 0.5f, 2), 4);
        g.Initializer("beta", R(4, -1, 1), 4);
        g.Initializer("mean", R(4, -0.5f, 0.5f), 4);
        g.Initializer("var", R(4, 0.1f, 2), 4);
        var c = g.Node("Conv", [x, "w"], "c", "conv", Attr.Ints("pads", 1, 1, 1, 1));
        var b = g.Node("BatchNormalization", [c, "gamma", "beta", "mean", "var"], "bn", "bn", Attr.Float("epsilon", 1e-3f));
        var d = g.Node("Dropout", [b], "d", "drop");
        var i = g.Node("Identity", [d], "i", "id");
        g.Output(g.Node("Relu", [i], "y"), DataType.Float, 1, 4, 8, 8);
        var model = g.Build();
        var prepared = GraphPreparer.Prepare(model, out var report);
        Assert.That(report.BatchNormsFolded, Is.EqualTo(1));
        Assert.That(report.IdentitiesRemoved, Is.EqualTo(2));
        Assert.That(prepared.Graph.Node.Select(n => n.OpType), Is.EqualTo(new[] { "Conv", "Relu" }));

        using var dir = new TempDir();
        var input = R(3 * 64, -1, 1);
        float[] Run(ModelProto m, string name)
        {
            var path = dir.File(name);
            OnnxModelFile.Save(m, path);
            using var s = new InferenceSession(path);
            using var v = OrtValue.CreateTensorValueFromMemory(input, [1, 3, 8, 8]);
            using var o = s.Run(new RunOptions(), ["x"], [v], ["y"]);
            return o[0].GetTensorDataAsSpan<float>().ToArray();
        }
        Assert.That(Run(prepared, "p.onnx"), Is.EqualTo(Run(model, "m.onnx")).Within(1e-5f));
    }

    [Test]
    public void AQuantizedModelIsRefused()
    {
        var prepared = GraphPreparer.Prepare(TestModels.SmallConvNet(), out _);
        var ranges = new QdqPlan(prepared, new HashSet<string>()).CalibratedTensors.ToDictionary(t => t, _ => (-1f, 1f));
        var q = QdqQuantizer.Quantize(prepared, ranges, new QdqOptions()).Model;
        Assert.That(() => GraphPreparer.Prepare(q, out _), Throws.TypeOf<QuantizationException>().With.Message.Contains("already quantized"));
    }

    [Test]
    public void AnOldOpsetIsRefused()
    {
        var m = TestModels.SmallConvNet();
        m.OpsetImport[0].Version = 11;
        Assert.That(() => GraphPreparer.Prepare(m, out _), Throws.TypeOf<QuantizationException>().With.Message.Contains("opset 11"));
    }

    [Category(Needs.Python)]
    /// <summary>
    /// INT8 (ONNX Runtime's integer kernels) against a fake-quantization reference written in NumPy
    /// from the quantization rules alone: same ranges, its own scales, zero points, rounding and clamping.
    /// </summary>
    [Test]
    public void Int8OutputsMatchAnIndependentFakeQuantReference()
    {
        using var dir = new TempDir();
        var model = TestModels.SmallConvNet(16, seed: 5);
        var prepared = GraphPreparer.Prepare(model, out _);
        var plan = new QdqPlan(prepared, new HashSet<string>());
        // Ranges from the FP32 model on the test inputs themselves.
        var rng = new Random(2);
        var inputs = Enumerable.Range(0, 8 * 3 * 16 * 16).Select(_ => rng.NextSingle() * 2 - 1).ToArray();
        var fp32Path = dir.File("fp32.onnx");
        var withOutputs = prepared.Clone();
        foreach (var t in plan.CalibratedTensors.Where(t => t != "input"))
            withOutputs.Graph.Output.Add(new ValueInfoProto { Name = t, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        OnnxModelFile.Save(withOutputs, fp32Path);
        var ranges = new Dictionary<string, (float, float)> { ["input"] = (inputs.Min(), inputs.Max()) };
        using (var s = new InferenceSession(fp32Path))
        using (var v = OrtValue.CreateTensorValueFromMemory(inputs, [8, 3, 16, 16]))
        {
            var names = plan.CalibratedTensors.Where(t => t != "input").ToList();
            using var o = s.Run(new RunOptions(), ["input"], [v], names);
            for (var i = 0; i < names.Count; i++)
            {
                var span = o[i].GetTensorDataAsSpan<float>();
                float lo = float.MaxValue, hi = float.MinValue;
                foreach (var x in span) { lo = Math.Min(lo, x); hi = Math.Max(hi, x); }
                ranges[names[i]] = (lo, hi);
            }
        }
        var int8Path = dir.File("int8.onnx");
        OnnxModelFile.Save(QdqQuantizer.Quantize(prepared, ranges, new QdqOptions()).Model, int8Path);
        float[] ours;
        using (var s = new InferenceSession(int8Path))
        using (var v = OrtValue.CreateTensorValueFromMemory(inputs, [8, 3, 16, 16]))
        using (var o = s.Run(new RunOptions(), ["input"], [v], ["logits"]))
            ours = o[0].GetTensorDataAsSpan<float>().ToArray();

        File.WriteAllBytes(dir.File("x.f32"), System.Runtime.InteropServices.MemoryMarshal.AsBytes(inputs.AsSpan()).ToArray());
        File.WriteAllText(dir.File("ranges.json"), JsonSerializer.Serialize(ranges.ToDictionary(kv => kv.Key, kv => new[] { kv.Value.Item1, kv.Value.Item2 })));
        var reference = Python.Run("""
            import sys, json, numpy as np, onnx, torch, torch.nn.functional as F
            from onnx import numpy_helper
            m = onnx.load(sys.argv[1]); w = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
            r = json.load(open(sys.argv[2]))
            x = torch.from_numpy(np.fromfile(sys.argv[3], dtype=np.float32).reshape(8, 3, 16, 16)).double()
            def act(t, name):              # uint8 asymmetric, range widened to include 0
                lo, hi = min(0.0, r[name][0]), max(0.0, r[name][1])
                s = (hi - lo) / 255 if hi > lo else 1.0
                z = min(max(round(-lo / s), 0), 255)
                return (torch.clamp(torch.round(t / s) + z, 0, 255) - z) * s
            def wq(a, axis):               # int8 symmetric per channel, 7 bits (the default)
                a = torch.from_numpy(a).double()
                shape = [1] * a.dim(); shape[axis] = -1
                amax = a.abs().amax(dim=[d for d in range(a.dim()) if d != axis]).view(shape)
                s = torch.where(amax > 0, amax / 63, torch.ones_like(amax))
                return torch.clamp(torch.round(a / s), -63, 63) * s, s.flatten()
            def bq(b, s):
                return torch.round(torch.from_numpy(b).double() / s) * s
            x = act(x, "input")
            w1, s1 = wq(w["c1.w"], 0)
            y = act(torch.relu(F.conv2d(x, w1, bq(w["c1.b"], s1 * ((max(0, r["input"][1]) - min(0, r["input"][0])) / 255)), stride=2, padding=1)), "r1")
            w2, _ = wq(w["c2.w"], 0)
            y = act(F.conv2d(y, w2), "c2")
            y = act(y.mean(dim=(2, 3)), "pool")
            wf, sf = wq(w["fc.w"], 0)
            s_in = (max(0, r["pool"][1]) - min(0, r["pool"][0])) / 255
            y = y @ wf.T + bq(w["fc.b"], sf * s_in)
            print(" ".join(f"{v:.8f}" for v in y.flatten().tolist()))
            """, fp32Path, dir.File("ranges.json"), dir.File("x.f32"));
        var expected = reference.Trim().Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        Assert.That(ours, Has.Length.EqualTo(expected.Length));
        // Integer kernels round their requantization differently in the last bit; a code's worth of
        // difference at each of three quantized layers stays far below this bound on logits of size ~1.
        var worst = ours.Zip(expected, (a, b) => Math.Abs(a - b)).Max();
        var spread = expected.Max() - expected.Min();
        TestContext.Out.WriteLine($"max |int8 - reference| = {worst:E3}, logit spread {spread:F3}");
        Assert.That(worst, Is.LessThan(0.02f * spread));
    }
}
