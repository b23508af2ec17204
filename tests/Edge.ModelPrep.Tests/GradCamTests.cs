using Edge.ModelPrep.Explain;
using Edge.ModelPrep.Export;
using Edge.ModelPrep.Models;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Tests;

public class GradCamTests
{
    /// <summary>
    /// A network whose answer is known by construction: its feature map is the image split into the
    /// top-left quadrant (channel 0) and the rest (channel 1); class 0 is the brightness of channel 0,
    /// class 1 of channel 1. The evidence for class 0 can only lie in the top-left quadrant.
    /// </summary>
    private sealed class QuadrantNet : ClassifierNet
    {
        private readonly Tensor _topLeft;
        // A trainable gain (1.0): a real weight that Grad-CAM must leave without a gradient.
        private readonly TorchSharp.Modules.Parameter _gain = new(ones(1));

        public QuadrantNet(int size) : base(nameof(QuadrantNet), new ArchSpec { Arch = "resnet20", InputSize = size, Channels = 1, Classes = 2 })
        {
            _topLeft = zeros(1, 1, size, size);
            _topLeft[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(0, size / 2), TensorIndex.Slice(0, size / 2)] = tensor(1f);
            RegisterComponents();
        }

        public override Tensor FeatureMap(Tensor x) => cat([x * _topLeft, x * (1 - _topLeft)], 1) * _gain;

        public override Tensor Classify(Tensor featureMap) => nn.functional.adaptive_avg_pool2d(featureMap, 1).flatten(1) * 10 * _gain;

        public override string Export(OnnxEmitter e, string path, string x) => throw new NotSupportedException();

        protected override IEnumerable<(string Tensor, ChannelGroup?[] Dims)> OwnChannelDims() => []; // nothing to prune
    }

    private static (double TopLeft, double Others) Mean(GradCamResult r)
    {
        double tl = 0, rest = 0;
        for (var y = 0; y < r.Height; y++)
            for (var x = 0; x < r.Width; x++)
                if (y < r.Height / 2 && x < r.Width / 2) tl += r.Heatmap[y * r.Width + x]; else rest += r.Heatmap[y * r.Width + x];
        var quarter = r.Width * r.Height / 4.0;
        return (tl / quarter, rest / (3 * quarter));
    }

    [Test]
    public void AClassThatDependsOnOneQuadrantLightsThatQuadrant()
    {
        using var net = new QuadrantNet(16);
        using var uniform = full(1, 1, 16, 16, 0.5f);
        var forZero = GradCam.Explain(net, uniform, explain: 0);
        Assert.That(forZero.Explained, Is.Zero);
        var (tl, rest) = Mean(forZero);
        Assert.That(tl, Is.EqualTo(1).Within(1e-5), "all of class 0's evidence is in the top-left quadrant");
        Assert.That(rest, Is.EqualTo(0).Within(1e-5));
        // The same image explained for class 1: the other three quadrants, none of the top-left.
        (tl, rest) = Mean(GradCam.Explain(net, uniform, explain: 1));
        Assert.That(tl, Is.EqualTo(0).Within(1e-5));
        Assert.That(rest, Is.EqualTo(1).Within(1e-5));
    }

    [Test]
    public void WithoutAClassItExplainsThePrediction()
    {
        using var net = new QuadrantNet(8);
        using var image = zeros(1, 1, 8, 8);
        image[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(0, 4), TensorIndex.Slice(0, 4)] = tensor(1f); // bright top-left only
        var r = GradCam.Explain(net, image);
        Assert.That(r.Predicted, Is.Zero);
        Assert.That(r.Explained, Is.Zero);
        // softmax of [10 * 16/64, 0] = [2.5, 0]
        Assert.That(r.Probabilities[0], Is.EqualTo(1 / (1 + Math.Exp(-2.5))).Within(1e-5));
        Assert.That(Mean(r).TopLeft, Is.EqualTo(1).Within(1e-5));
        Assert.That(net.parameters().ToList(), Has.Count.EqualTo(1), "the _gain is a registered weight");
        Assert.That(net.parameters().All(p => p.grad is null), "explaining trains nothing");
        Assert.That(r.HasEvidence && r.Finite, Is.True);
        // Class 1 has no evidence in an image that is dark outside the top-left quadrant: an empty map, said so.
        var none = GradCam.Explain(net, image, explain: 1);
        Assert.That(none.HasEvidence, Is.False);
        Assert.That(none.Heatmap.All(v => v == 0), Is.True);
    }

    [Test]
    public void TheColourRampRunsFromBlueToRed()
    {
        Assert.That(HeatmapOverlay.Color(0), Is.EqualTo(((byte)0, (byte)0, (byte)128)));
        Assert.That(HeatmapOverlay.Color(0.5f), Is.EqualTo(((byte)128, (byte)255, (byte)128)));
        Assert.That(HeatmapOverlay.Color(1), Is.EqualTo(((byte)128, (byte)0, (byte)0)));
    }
}
