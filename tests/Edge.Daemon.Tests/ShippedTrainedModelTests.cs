using System.Text.Json;
using Edge.Onnx.Metadata;
using Edge.Onnx.Model;

namespace Edge.Daemon.Tests;

/// <summary>
/// The pruned INT8 Fashion-MNIST model shipped in models/ (trained, pruned, exported and quantized by edge-prep with
/// tools/make-models.sh): a valid ONNX file with everything edged needs inside, that names its samples.
/// </summary>
public class ShippedTrainedModelTests
{
    private static string ModelPath => Path.Combine(RepoPaths.Models, "fashion-mnist-resnet20-pruned.int8.onnx");

    [Category(Needs.Python)]
    [Test]
    public void ItIsAValidInt8ModelWithItsLabelsAndPreprocessing()
    {
        Python.CheckModel(ModelPath);
        var model = OnnxModelFile.Load(ModelPath);
        var report = ModelInspector.Inspect(model);
        Assert.That(report.Operators.Keys, Does.Contain("QuantizeLinear").And.Contain("DequantizeLinear"));
        Assert.That(report.Metadata[ModelMetadataKeys.Architecture], Does.StartWith("resnet20").And.Contain(" pruned "));
        var settings = ModelSettings.FromMetadata(report.Metadata);
        Assert.That(settings.Labels, Is.EqualTo(new[] { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" }));
        Assert.That(settings.Color, Is.EqualTo(ColorOrder.Gray));
    }

    [Test]
    public void EdgedNamesEverySample()
    {
        var samples = Path.Combine(RepoPaths.Models, "fashion-samples");
        var r = Edged.Run("classify", samples, "--model", ModelPath, "--json");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        Assert.That(r.Stderr, Is.Empty, "the model states everything: no warnings");
        using var doc = JsonDocument.Parse(r.Stdout);
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.That(results, Has.Count.EqualTo(10));
        foreach (var e in results)
        {
            // File names are the true classes: t-shirt.png, ankle-boot.png, ...
            var expected = Path.GetFileNameWithoutExtension(e.GetProperty("path").GetString()!);
            var label = e.GetProperty("top")[0].GetProperty("label").GetString()!;
            Assert.That(label.ToLowerInvariant().Replace(' ', '-').Replace("/top", ""), Is.EqualTo(expected));
        }
    }
}
