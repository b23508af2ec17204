using Edge.Onnx.Metadata;
using Edge.Onnx.Model;
using Microsoft.ML.OnnxRuntime;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.Onnx.Tests;

public class GraphBuilderTests
{
    [Test]
    public void LinearModelComputesWhatWeComputeByHand()
    {
        // Two channels of a 2x2 image: channel means 2.5 and 2.
        float[,] w = { { 1f, -1f }, { 0.5f, 2f } };
        var model = TestModels.Linear(2, 2, 2, w, [0.1f, -0.2f]);
        using var dir = new TempDir();
        var path = TestModels.Save(model, dir.File("linear.onnx"));

        using var session = new InferenceSession(path);
        using var input = OrtValue.CreateTensorValueFromMemory(new float[] { 1, 2, 3, 4, 0, 0, 4, 4 }, [1, 2, 2, 2]);
        using var results = session.Run(new RunOptions(), ["image"], [input], ["scores"]);
        var scores = results[0].GetTensorDataAsSpan<float>().ToArray();
        // 1*2.5 - 1*2 + 0.1 = 0.6 ; 0.5*2.5 + 2*2 - 0.2 = 5.05
        Assert.That(scores, Is.EqualTo(new[] { 0.6f, 5.05f }).Within(1e-5f));
    }

    [Test]
    public void SoftmaxHeadGivesProbabilities()
    {
        float[,] w = { { 1f }, { 0f }, { -1f } };
        using var dir = new TempDir();
        var path = TestModels.Save(TestModels.Linear(1, 1, 1, w, [0f, 0f, 0f], softmax: true), dir.File("m.onnx"));
        using var session = new InferenceSession(path);
        using var input = OrtValue.CreateTensorValueFromMemory(new float[] { 2f }, [1, 1, 1, 1]);
        using var results = session.Run(new RunOptions(), ["image"], [input], ["probabilities"]);
        var p = results[0].GetTensorDataAsSpan<float>().ToArray();
        // softmax([2, 0, -2])
        var e = new[] { Math.Exp(2), 1, Math.Exp(-2) };
        var expected = e.Select(v => (float)(v / e.Sum())).ToArray();
        Assert.That(p, Is.EqualTo(expected).Within(1e-6f));
    }

    [Category(Needs.Python)]
    [TestCase("linear")]
    [TestCase("convnet")]
    [TestCase("passthrough")]
    [TestCase("colors")]
    [TestCase("nhwc")]
    public void WrittenModelsPassTheOnnxChecker(string which)
    {
        var model = which switch
        {
            "linear" => TestModels.Linear(3, 8, 8, new float[4, 3], new float[4]),
            "convnet" => TestModels.SmallConvNet(),
            "passthrough" => TestModels.Passthrough(3, 4, 5),
            "nhwc" => TestModels.Linear(3, 8, 8, new float[4, 3], new float[4], nhwc: true),
            _ => TestModels.ColorModel(),
        };
        using var dir = new TempDir();
        Python.CheckModel(TestModels.Save(model, dir.File(which + ".onnx")));
    }

    [Category(Needs.Python)]
    [Test]
    public void MetadataIsReadBackByOnnxItself()
    {
        var settings = new ModelSettings
        {
            Labels = ["cat", "dog \"big\"", "émeu"],
            Color = ColorOrder.Bgr,
            Resize = ResizeMode.Letterbox,
            Scale = 1f / 255,
            Mean = [0.5f, 0.5f, 0.5f],
            Std = [0.25f, 0.25f, 0.25f],
            LetterboxFill = 114,
        };
        using var dir = new TempDir();
        var path = TestModels.Save(TestModels.Linear(3, 4, 4, new float[3, 3], new float[3], settings: settings), dir.File("m.onnx"));
        var printed = Python.Run("""
            import sys, json, onnx
            m = onnx.load(sys.argv[1])
            props = {p.key: p.value for p in m.metadata_props}
            print("|".join(json.loads(props["edge.labels"])))
            print(props["edge.preprocess.color"], props["edge.preprocess.resize"], props["edge.preprocess.letterbox_fill"])
            """, path);
        Assert.That(printed.Split('\n')[0], Is.EqualTo("cat|dog \"big\"|émeu"));
        Assert.That(printed.Split('\n')[1], Is.EqualTo("bgr letterbox 114"));

        var back = ModelSettings.FromMetadata(OnnxModelFile.Load(path).MetadataProps.ToDictionary(p => p.Key, p => p.Value));
        Assert.That(back.Labels, Is.EqualTo(settings.Labels));
        Assert.That(back.Color, Is.EqualTo(ColorOrder.Bgr));
        Assert.That(back.Resize, Is.EqualTo(ResizeMode.Letterbox));
        Assert.That(back.Scale, Is.EqualTo(1f / 255));
        Assert.That(back.Mean, Is.EqualTo(settings.Mean));
        Assert.That(back.Std, Is.EqualTo(settings.Std));
        Assert.That(back.LetterboxFill, Is.EqualTo((byte)114));
    }

    [Test]
    public void MistakesAreReportedWhereTheyAreMade()
    {
        var g = new GraphBuilder();
        var x = g.Input("x", DataType.Float, 1, 4);
        Assert.That(() => g.Node("Relu", ["nope"]), Throws.ArgumentException.With.Message.Contains("'nope', which nothing produces"));
        Assert.That(() => g.Input("x", DataType.Float, 1), Throws.ArgumentException.With.Message.Contains("'x' is already used"));
        Assert.That(() => g.Initializer("w", new float[3], 2, 2), Throws.ArgumentException.With.Message.Contains("3 values do not fill shape [2,2]"));
        g.Output("y", DataType.Float, 1, 4);
        Assert.That(() => g.Build(), Throws.InvalidOperationException.With.Message.Contains("'y' is not produced"));
        g.Node("Relu", [x], "y");
        Assert.That(g.Build().Graph.Node, Has.Count.EqualTo(1));
    }
}
