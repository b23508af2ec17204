using System.Globalization;
using Edge.Onnx.Model;

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
}
