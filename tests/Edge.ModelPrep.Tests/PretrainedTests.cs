using Edge.Host.Datasets;
using Edge.Core.Imaging;
using Edge.ModelPrep.Models;
using Edge.Onnx.Metadata;
using Edge.Onnx.Model;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Tests;

/// <summary>The ImageNet ResNet-18 imported from ONNX computes what ONNX Runtime computes from the same file.</summary>
[NonParallelizable]
public class PretrainedTests
{
    /// <summary>Real images (the shipped samples and Fashion-MNIST) as the backbone wants them: BGR 0..255 minus the channel means, 224x224.</summary>
    private static float[] RealImages(int size, out int count)
    {
        var spec = new PreprocessingSpec
        {
            Width = size, Height = size, Color = ColorOrder.Bgr, Resize = ResizeMode.Squash, Scale = 1f / 255,
            Mean = PretrainedBackbone.Mean, Std = PretrainedBackbone.Std,
        };
        var pre = new Preprocessor(spec);
        var files = Directory.GetFiles(Path.Combine(RepoPaths.Models, "samples"), "*.jpg").Order(StringComparer.Ordinal).ToList();
        var fashion = IdxImageSet.FashionMnist("test");
        count = files.Count + 2;
        var data = new float[count * pre.TensorLength];
        using var decoder = new ImageDecoder();
        using var pixels = new PixelBuffer();
        for (var i = 0; i < count; i++)
        {
            if (i < files.Count) decoder.Decode(File.ReadAllBytes(files[i]), pixels);
            else fashion.Load(i - files.Count, decoder, pixels, default);
            pre.Run(pixels.View, data.AsSpan(i * pre.TensorLength, pre.TensorLength));
        }
        return data;
    }

    private static float[] OnnxRuntimeFeatures(string path, float[] images, int count, int size)
    {
        using var session = new InferenceSession(File.ReadAllBytes(path));
        var input = session.InputMetadata.Keys.Single();
        var output = session.OutputMetadata.Keys.Single();
        var features = new List<float>();
        var one = 3 * size * size;
        for (var i = 0; i < count; i++)
        {
            using var x = OrtValue.CreateTensorValueFromMemory(images[(i * one)..((i + 1) * one)], [1, 3, size, size]);
            using var r = session.Run(new RunOptions(), [input], [x], [output]);
            features.AddRange(r[0].GetTensorDataAsSpan<float>().ToArray());
        }
        return [.. features];
    }

    private static float[] TorchSharpFeatures(ResNet net, float[] images, int count, int size)
    {
        net.eval();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return net.Features(tensor(images, [count, 3, size, size])).data<float>().ToArray();
    }

    [Category(Needs.FashionMnist)]
    [Test]
    public void TheImportedImageNetBackboneGivesOnnxRuntimesFeaturesOnRealImages()
    {
        var path = PretrainedBackbone.Resolve(PretrainedBackbone.ImageNet);
        var weights = PretrainedBackbone.Read(path);
        // CNTK's "ResNet-18": 22 convolutions, 2, 2, 2 and 3 basic blocks (one more than torchvision's in the last stage).
        Assert.That(weights.Depths, Is.EqualTo(new[] { 2, 2, 2, 3 }));
        Assert.That(weights.Blocks.Count(b => b.Downsample is not null), Is.EqualTo(3));
        using var net = (ResNet)Architectures.Create(weights.Spec(224, 10));
        PretrainedBackbone.Load(net, weights);
        var images = RealImages(224, out var count);
        var expected = OnnxRuntimeFeatures(path, images, count, 224);
        var actual = TorchSharpFeatures(net, images, count, 224);
        Assert.That(actual, Has.Length.EqualTo(count * 512));
        var maxDiff = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        TestContext.Out.WriteLine($"features of {count} real images: max |ONNX Runtime - TorchSharp| = {maxDiff:g3} (features up to {expected.Max():0.##})");
        Assert.That(maxDiff, Is.LessThanOrEqualTo(1e-4));
        Assert.That(expected.Max(), Is.GreaterThan(1), "features that mean something, not all zero");
    }

    [Category(Needs.FashionMnist), Category(Needs.Python)]
    [Test]
    public void ABackboneExportedByPyTorchWithBatchNormFoldedMapsToo()
    {
        using var dir = new TempDir();
        Python.Run("""
            import sys, torch, torchvision
            torch.manual_seed(3)
            m = torchvision.models.resnet18(num_classes=1000).eval()
            for mod in m.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.running_mean.uniform_(-0.2, 0.2); mod.running_var.uniform_(0.5, 1.5); mod.weight.data.uniform_(0.5, 1.5); mod.bias.data.uniform_(-0.2, 0.2)
            m.fc = torch.nn.Identity()
            torch.onnx.export(m, torch.randn(1, 3, 160, 160), sys.argv[1], opset_version=13, input_names=["x"], output_names=["features"], do_constant_folding=True)
            """, dir.File("tv.onnx"));
        var weights = PretrainedBackbone.Read(dir.File("tv.onnx"));
        Assert.That(weights.Depths, Is.EqualTo(new[] { 2, 2, 2, 2 }));
        using var net = (ResNet)Architectures.Create(weights.Spec(160, 5));
        PretrainedBackbone.Load(net, weights);
        var images = RealImages(160, out var count);
        var expected = OnnxRuntimeFeatures(dir.File("tv.onnx"), images, count, 160);
        var actual = TorchSharpFeatures(net, images, count, 160);
        Assert.That(expected.Zip(actual, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(a))).Max(), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void ABackboneWhoseGraphDoesNotMapIsRefusedWithTheNodeNamed()
    {
        using var dir = new TempDir();
        var model = OnnxModelFile.Load(PretrainedBackbone.ImageNetPath);
        model.Graph.Node.Single(n => n.Name == "Plus281").OpType = "Sub";
        TestModels.Save(model, dir.File("broken.onnx"));
        var e = Assert.Throws<PretrainedException>(() => PretrainedBackbone.Read(dir.File("broken.onnx")))!;
        Assert.That(e.Message, Does.Contain("expected one Add reading 'BatchNormalization279_Output_0'"));

        TestModels.Save(TestModels.SmallConvNet(), dir.File("convnet.onnx"));
        e = Assert.Throws<PretrainedException>(() => PretrainedBackbone.Read(dir.File("convnet.onnx")))!;
        Assert.That(e.Message, Does.Contain("node 'conv1' (Conv) has kernel 3x3, expected 7x7"));

        using var mobile = Architectures.Create(new ArchSpec { Arch = "mobilenetv2", InputSize = 96, Channels = 3, Classes = 4 });
        e = Assert.Throws<PretrainedException>(() => PretrainedBackbone.Load(mobile, PretrainedBackbone.Read(PretrainedBackbone.ImageNetPath)))!;
        Assert.That(e.Message, Does.Contain("holds a resnet18 [2,2,2,3]").And.Contain("mobilenetv2"));
    }
}
