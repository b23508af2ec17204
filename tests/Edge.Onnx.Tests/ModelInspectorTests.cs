using System.Globalization;
using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.Onnx.Tests;

public class ModelInspectorTests
{
    [Test]
    public void CountsMacsAndParametersOfAHandBuiltNet()
    {
        var r = ModelInspector.Inspect(TestModels.SmallConvNet(32));
        // conv1: 8 x 16 x 16 outputs, each 3*3*3 MACs; conv2: 16 x 16 x 16 outputs, each 8 MACs; fc: 10 outputs x 16.
        Assert.That(r.Layers.Select(l => l.Macs), Is.EqualTo(new long?[] { 8 * 16 * 16 * 27, 16 * 16 * 16 * 8, 10 * 16 }));
        Assert.That(r.TotalMacs, Is.EqualTo(55296 + 32768 + 160));
        Assert.That(r.Layers[0].OutputShape, Is.EqualTo(new long[] { 1, 8, 16, 16 }));
        Assert.That(r.Parameters, Is.EqualTo(8 * 27 + 8 + 16 * 8 + 10 * 16 + 10));
        Assert.That(r.ParameterBytes, Is.EqualTo(4 * r.Parameters));
        Assert.That(r.Operators, Is.EqualTo(new Dictionary<string, int>
        {
            ["Conv"] = 2, ["Flatten"] = 1, ["Gemm"] = 1, ["GlobalAveragePool"] = 1, ["Relu"] = 1,
        }));
        Assert.That(r.Inputs.Single().ToString(), Is.EqualTo("input: float[batch, 3, 32, 32]"));
        Assert.That(r.Outputs.Single().ToString(), Is.EqualTo("logits: float[batch, 10]"));
        Assert.That(r.LayersWithUnknownMacs, Is.Zero);
    }

    [Category(Needs.Python)]
    /// <summary>
    /// A model written by torch.onnx.export (depthwise and grouped convs, BatchNorm, MaxPool with
    /// ceil_mode, x.view(x.size(0), -1) as a Shape/Gather/Concat/Reshape chain): MACs and
    /// parameters against counts PyTorch computes from the module itself with forward hooks.
    /// </summary>
    [Test]
    public void MatchesPyTorchCountsOnATorchExportedModel()
    {
        using var dir = new TempDir();
        var path = dir.File("torch.onnx");
        var reference = Python.Run("""
            import sys, torch, torch.nn as nn
            torch.manual_seed(0)
            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
                    self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16)
                    self.pw = nn.Conv2d(16, 24, 1)
                    self.grouped = nn.Conv2d(24, 32, 3, 1, 0, groups=4)
                    self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
                    self.fc = nn.Linear(32 * 8 * 8, 7)
                def forward(self, x):
                    x = self.pool(self.grouped(self.pw(self.dw(self.stem(x)))))
                    return self.fc(x.view(x.size(0), -1))
            net = Net().eval()
            macs = []
            def hook(m, i, o):
                if isinstance(m, nn.Conv2d):
                    macs.append(o.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1])
                elif isinstance(m, nn.Linear):
                    macs.append(o.numel() * m.in_features)
            handles = [m.register_forward_hook(hook) for m in net.modules()]
            x = torch.randn(1, 3, 36, 36)
            with torch.no_grad():
                net(x)
            for h in handles:
                h.remove()
            torch.onnx.export(net, x, sys.argv[1], opset_version=13, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
            print(sum(macs))
            print(",".join(str(v) for v in macs))
            """, path);
        var lines = reference.Trim().Split('\n');
        var expectedTotal = long.Parse(lines[0], CultureInfo.InvariantCulture);
        var expectedLayers = lines[1].Split(',').Select(v => (long?)long.Parse(v, CultureInfo.InvariantCulture)).ToArray();

        var r = ModelInspector.Inspect(OnnxModelFile.Load(path));
        Assert.That(r.LayersWithUnknownMacs, Is.Zero, "every layer's shape should be inferred");
        Assert.That(r.Layers.Select(l => l.Macs), Is.EqualTo(expectedLayers));
        Assert.That(r.TotalMacs, Is.EqualTo(expectedTotal));
        Assert.That(r.Operators.ContainsKey("Reshape"), Is.True, "the export should contain the view() chain this test is about");
    }

    /// <summary>
    /// Conv over a DequantizeLinear of int8 codes, a second DequantizeLinear reading the same codes, a
    /// QLinearConv weight stored as int32_data, and a uint8 tensor (an activation-side constant, not a weight).
    /// </summary>
    private static ModelProto QuantizedNet(sbyte[] convCodes, int[] qlinearCodes)
    {
        var g = new GraphBuilder("qdq");
        var x = g.Input("x", DataType.Float, 1, 1, 4, 4);
        g.Initializer(TensorData.FromInt8s("w.q", convCodes, convCodes.Length, 1, 1, 1));
        g.Initializer("w.scale", new float[convCodes.Length], convCodes.Length);
        var w = g.Node("DequantizeLinear", ["w.q", "w.scale"], "w", null, Attr.Int("axis", 0));
        g.Node("DequantizeLinear", ["w.q", "w.scale"], "w.again", null, Attr.Int("axis", 0));
        var y = g.Node("Conv", [x, w], "y");
        var raw = new TensorProto { Name = "qw", DataType = (int)DataType.Int8 };
        raw.Dims.AddRange([qlinearCodes.Length, 1, 1, 1]);
        raw.Int32Data.AddRange(qlinearCodes);
        g.Initializer(raw);
        g.Initializer(TensorData.FromUInt8s("u8", [255, 0], 2));
        g.Node("DequantizeLinear", ["u8", "w.scale"], "u8.f");
        g.Initializer("s", [0.1f]);
        g.Initializer(TensorData.FromUInt8s("z", [0]));
        var xq = g.Node("QuantizeLinear", [x, "s", "z"], "xq");
        g.Node("QLinearConv", [xq, "s", "z", "qw", "s", "z", "s", "z"], "yq");
        g.Output(y, DataType.Float, 1, convCodes.Length, 4, 4);
        return g.Build();
    }

    [Test]
    public void FindsTheWidestInt8WeightCode()
    {
        var seven = Int8Weights.Of(QuantizedNet([-63, 5, 64], [1, -60]).Graph);
        Assert.That(seven, Is.EqualTo(new Int8Weights(2, 64)), "w.q once though two nodes read it; the uint8 constant is not a weight");
        Assert.That(seven.Bits, Is.EqualTo(7));
        Assert.That(seven.NeedVnniOnX86, Is.False, "2·255·64 = 32640 fits in 16 bits");

        var eight = Int8Weights.Of(QuantizedNet([-63, 5, 63], [1, 65]).Graph);
        Assert.That(eight, Is.EqualTo(new Int8Weights(2, 65)), "65 in the QLinearConv weight (int32_data)");
        Assert.That(eight.Bits, Is.EqualTo(8));
        Assert.That(eight.NeedVnniOnX86, Is.True, "2·255·65 = 33150 does not");

        Assert.That(Int8Weights.Of(QuantizedNet([-128], [0]).Graph).MaxMagnitude, Is.EqualTo(128), "-128 is the widest int8 code");
        Assert.That(Int8Weights.Of(QuantizedNet([1], [0x1FF]).Graph).MaxMagnitude, Is.EqualTo(1), "int32_data holds one int8 per element: its low byte runs");
        var none = ModelInspector.Inspect(TestModels.SmallConvNet(32)).Int8Weights;
        Assert.That((none.Tensors, none.MaxMagnitude, none.Bits, none.NeedVnniOnX86), Is.EqualTo((0, 0, 0, false)));
    }

    /// <summary>
    /// Weights in a Constant node inside an If branch count; an int8 constant dequantized into an Add (not a
    /// weight: no integer kernel multiplies it) does not.
    /// </summary>
    [Test]
    public void Int8WeightsInSubgraphsAndConstantsCountAndNonWeightsDoNot()
    {
        var body = new GraphBuilder("then");
        var sx = body.Input("sx", DataType.Float, 1, 4);
        var codes = body.Node("Constant", [], "c.q", null, Attr.Tensor("value", TensorData.FromInt8s("c", [100, -3, 0, 0, 0, 0, 0, 0], 4, 2)));
        body.Initializer("c.scale", [0.5f]);
        var w = body.Node("DequantizeLinear", [codes, "c.scale"], "c.w");
        var y = body.Node("MatMul", [sx, w], "sy");
        body.Output(y, DataType.Float, 1, 2);

        var g = new GraphBuilder("outer");
        var x = g.Input("x", DataType.Float, 1, 2);
        var cond = g.Input("cond", DataType.Bool);
        g.Initializer(TensorData.FromInt8s("bias.q", [120, 120], 2));
        g.Initializer("bias.scale", [0.1f]);
        var bias = g.Node("DequantizeLinear", ["bias.q", "bias.scale"], "bias");
        var sum = g.Node("Add", [x, bias], "sum");
        var branch = new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = body.Build().Graph };
        var other = new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = body.Build().Graph };
        var chosen = g.Node("If", [cond], "chosen", null, branch, other);
        g.Output(sum, DataType.Float, 1, 2);
        g.Output(chosen, DataType.Float, 1, 2);

        Assert.That(Int8Weights.Of(g.Build().Graph), Is.EqualTo(new Int8Weights(1, 100)), "the branch's weight (named alike in both branches), not the dequantized bias");
    }

    [Category(Needs.Python)]
    [Test]
    public void Int8WeightsOfTheShippedModelMatchOnnx()
    {
        var path = Path.Combine(RepoPaths.Models, "fashion-mnist-resnet20-pruned.int8.onnx");
        var reference = Python.Run("""
            import sys, onnx, numpy as np
            from onnx import numpy_helper
            m = onnx.load(sys.argv[1])
            init = {t.name: t for t in m.graph.initializer}
            ws = {n.input[0] for n in m.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in init
                  and init[n.input[0]].data_type == onnx.TensorProto.INT8}
            print(len(ws), max(int(np.abs(numpy_helper.to_array(init[w]).astype(np.int32)).max()) for w in ws))
            """, path).Trim().Split(' ');
        var found = ModelInspector.Inspect(OnnxModelFile.Load(path)).Int8Weights;
        Assert.That(found, Is.EqualTo(new Int8Weights(int.Parse(reference[0], CultureInfo.InvariantCulture), int.Parse(reference[1], CultureInfo.InvariantCulture))));
    }
}
