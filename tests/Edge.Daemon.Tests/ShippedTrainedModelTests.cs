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
        // The model states everything; its weights are 8-bit (see models/README.md), which is said once where the CPU saturates them.
        var warnings = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(warnings, Has.Length.EqualTo(CpuFlags.SaturatesEightBitCodes ? 1 : 0), r.Stderr);
        Assert.That(warnings.All(w => w.Contains("has 8-bit weight codes") && w.Contains("no VNNI")), r.Stderr);
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

    /// <summary>edged inspect says how wide the weight codes are and whether this CPU computes them exactly.</summary>
    [Category(Needs.Python)]
    [Test]
    public void InspectSaysTheWeightsAreEightBit()
    {
        var r = Edged.Run("inspect", ModelPath, "--json");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        JsonSchemas.AssertValid(r.Stdout, "edged-inspect");
        using var doc = JsonDocument.Parse(r.Stdout);
        var int8 = doc.RootElement.GetProperty("int8_weights");
        // 21 convolutions and the classifier, each with its own weight tensor; make-models.sh quantizes with --weight-bits 8.
        Assert.That(int8.GetProperty("tensors").GetInt32(), Is.EqualTo(doc.RootElement.GetProperty("operators").GetProperty("Conv").GetInt32() + 1));
        Assert.That(int8.GetProperty("max_magnitude").GetInt32(), Is.EqualTo(127));
        Assert.That(int8.GetProperty("bits").GetInt32(), Is.EqualTo(8));
        Assert.That(int8.GetProperty("exact_here").GetBoolean(), Is.EqualTo(!CpuFlags.SaturatesEightBitCodes), "/proc/cpuinfo");

        var text = Edged.Run("inspect", ModelPath);
        Assert.That(text.Stdout, Does.Contain("codes within ±127 (8-bit)"));
    }
}
