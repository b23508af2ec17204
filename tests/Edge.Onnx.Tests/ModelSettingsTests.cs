using Edge.Onnx.Metadata;

namespace Edge.Onnx.Tests;

public class ModelSettingsTests
{
    [Test]
    public void BadValuesNameTheirKey()
    {
        Assert.That(() => ModelSettings.FromMetadata(new Dictionary<string, string> { ["edge.preprocess.resize"] = "zoom" }),
            Throws.TypeOf<FormatException>().With.Message.Contains("'edge.preprocess.resize' = 'zoom'"));
        Assert.That(() => ModelSettings.FromMetadata(new Dictionary<string, string> { ["edge.labels"] = "cat,dog" }),
            Throws.TypeOf<FormatException>().With.Message.Contains("'edge.labels'"));
        Assert.That(() => ModelSettings.FromMetadata(new Dictionary<string, string> { ["edge.labels"] = "[\"a\", 3]" }),
            Throws.TypeOf<FormatException>().With.Message.Contains("label 1 is a Number"));
        Assert.That(() => ModelSettings.FromMetadata(new Dictionary<string, string> { ["edge.preprocess.mean"] = "0.5,x" }),
            Throws.TypeOf<FormatException>().With.Message.Contains("'edge.preprocess.mean'"));
        Assert.That(() => ModelSettings.FromMetadata(new Dictionary<string, string> { ["edge.preprocess.input_size"] = "224" }),
            Throws.TypeOf<FormatException>().With.Message.Contains("WIDTHxHEIGHT"));
    }

    [Test]
    public void ScaleMayBeWrittenAsAFraction() =>
        Assert.That(ModelSettings.ParseFloat("1/255", "x"), Is.EqualTo(1f / 255f));

    [Test]
    public void LaterSourcesWinFieldByField()
    {
        var model = new ModelSettings { Labels = ["a", "b"], Resize = ResizeMode.Letterbox };
        var flags = new ModelSettings { Resize = ResizeMode.CenterCrop };
        var merged = model.Overlay(flags);
        Assert.That(merged.Labels, Is.EqualTo(new[] { "a", "b" }));
        Assert.That(merged.Resize, Is.EqualTo(ResizeMode.CenterCrop));
    }

    [Test]
    public void DefaultsAreTheDocumentedOnes()
    {
        var rgb = PreprocessingSpec.Resolve(ModelSettings.Empty, 3, 224, 224);
        Assert.That(rgb.Color, Is.EqualTo(ColorOrder.Rgb));
        Assert.That(rgb.Resize, Is.EqualTo(ResizeMode.Squash));
        Assert.That(rgb.Scale, Is.EqualTo(1f / 255f));
        Assert.That(rgb.Mean, Is.EqualTo(new[] { 0.485f, 0.456f, 0.406f }));
        Assert.That(rgb.Std, Is.EqualTo(new[] { 0.229f, 0.224f, 0.225f }));
        var gray = PreprocessingSpec.Resolve(ModelSettings.Empty, 1, 28, 28);
        Assert.That(gray.Color, Is.EqualTo(ColorOrder.Gray));
    }

    [Test]
    public void ContradictionsAreRefused()
    {
        Assert.That(() => PreprocessingSpec.Resolve(new ModelSettings { Color = ColorOrder.Gray }, 3, 8, 8),
            Throws.TypeOf<FormatException>().With.Message.Contains("'gray' has 1 channel(s) but the model's input has 3"));
        Assert.That(() => PreprocessingSpec.Resolve(new ModelSettings { Width = 10, Height = 10 }, 3, 8, 8),
            Throws.TypeOf<FormatException>().With.Message.Contains("fixed at 8x8"));
        Assert.That(() => PreprocessingSpec.Resolve(ModelSettings.Empty, 3, null, null),
            Throws.InstanceOf<FormatException>().With.Message.Contains("edge.preprocess.input_size"));
        Assert.That(() => PreprocessingSpec.Resolve(new ModelSettings { Std = [1, 0, 1] }, 3, 8, 8),
            Throws.TypeOf<FormatException>().With.Message.Contains("positive"));
        Assert.That(() => PreprocessingSpec.Resolve(new ModelSettings { Mean = [1, 0] }, 3, 8, 8),
            Throws.TypeOf<FormatException>().With.Message.Contains("mean has 2 values"));
    }
}
