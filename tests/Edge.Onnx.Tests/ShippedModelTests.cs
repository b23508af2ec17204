using Edge.Onnx.Model;
using Google.Protobuf;

namespace Edge.Onnx.Tests;

/// <summary>The default model and sample frames in models/ are exactly what the fixtures make.</summary>
public class ShippedModelTests
{
    private static string ModelPath => Path.Combine(RepoPaths.Models, "colors.onnx");
    private static string SamplesPath => Path.Combine(RepoPaths.Models, "samples");

    [Test]
    public void ShippedModelIsTheFixtureModel()
    {
        Assert.That(File.Exists(ModelPath), Is.True, "models/colors.onnx is missing: run the Explicit test WriteShippedModelAndSamples");
        var shipped = File.ReadAllBytes(ModelPath);
        Assert.That(shipped, Is.EqualTo(TestModels.ColorModel().ToByteArray()),
            "models/colors.onnx differs from TestModels.ColorModel(): regenerate with the Explicit test WriteShippedModelAndSamples");
    }

    [Category(Needs.Python)]
    [Test]
    public void ShippedModelPassesOnnxChecker() => Python.CheckModel(ModelPath);

    [Test]
    public void ShippedSamplesAreTheFixtureSamples()
    {
        foreach (var (name, _, jpeg) in SampleFrames.Make())
            Assert.That(File.ReadAllBytes(Path.Combine(SamplesPath, name)), Is.EqualTo(jpeg), name);
    }

    [Test, Explicit("Writes models/colors.onnx and models/samples/*.jpg")]
    public void WriteShippedModelAndSamples()
    {
        Directory.CreateDirectory(SamplesPath);
        OnnxModelFile.Save(TestModels.ColorModel(), ModelPath);
        foreach (var (name, _, jpeg) in SampleFrames.Make())
            File.WriteAllBytes(Path.Combine(SamplesPath, name), jpeg);
    }
}
