using Edge.Core.Inference;
using Edge.Onnx.Metadata;
using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using Google.Protobuf;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.Core.Tests;

public class ClassifierTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private string Save(ModelProto model, string name = "m.onnx") => TestModels.Save(model, _dir.File(name));

    private static readonly float[,] W3 = { { 1f, 0f, 0f }, { 0f, 1f, 0f }, { 0f, 0f, 1f }, { 1f, 1f, 1f } };

    private static ModelSettings Plain(params string[] labels) => new()
    {
        Labels = labels, Scale = 1f / 255, Mean = [0, 0, 0], Std = [1, 1, 1],
    };

    [Test]
    public void ProbabilitiesAreTheSoftmaxOfHandComputedLogits()
    {
        // Solid (51, 102, 204) → scaled (0.2, 0.4, 0.8); logits = W·x + b.
        float[] bias = [0.5f, 0f, -0.5f, 0f];
        var path = Save(TestModels.Linear(3, 16, 16, W3, bias, settings: Plain("r", "g", "b", "sum")));
        using var classifier = Classifier.Load(path);
        var result = classifier.Classify(TestImages.Png(TestImages.Solid(40, 30, 51, 102, 204), 40, 30), top: 4);

        double[] logits = [0.2 + 0.5, 0.4, 0.8 - 0.5, 0.2 + 0.4 + 0.8];
        var exp = logits.Select(Math.Exp).ToArray();
        var expected = exp.Select(e => (float)(e / exp.Sum())).ToArray();
        Assert.That(classifier.Scores().ToArray(), Is.EqualTo(expected).Within(1e-5f));
        Assert.That(classifier.RawOutput().ToArray(), Is.EqualTo(logits.Select(v => (float)v).ToArray()).Within(1e-5f));
        Assert.That(result.Top.Select(p => p.Label), Is.EqualTo(new[] { "sum", "r", "g", "b" }));
        Assert.That(result.Top[0].Score, Is.EqualTo(expected[3]).Within(1e-5f));
        Assert.That(result.Image.Format, Is.EqualTo("PNG"));
    }

    [Test]
    public void AModelThatEndsInSoftmaxIsNotSoftmaxedTwice()
    {
        var path = Save(TestModels.Linear(3, 8, 8, W3, new float[4], softmax: true, settings: Plain("a", "b", "c", "d")));
        using var classifier = Classifier.Load(path);
        Assert.That(classifier.Model.Output, Is.EqualTo(OutputKind.Probabilities));
        classifier.Classify(TestImages.Png(TestImages.Solid(8, 8, 255, 0, 0), 8, 8));
        Assert.That(classifier.Scores().ToArray(), Is.EqualTo(classifier.RawOutput().ToArray()));
        Assert.That(classifier.Scores().ToArray().Sum(), Is.EqualTo(1f).Within(1e-5f));
    }

    [Test]
    public void MeanStdAndScaleFromMetadataAreApplied()
    {
        var settings = Plain("a") with { Labels = ["x", "y", "z", "w"], Mean = [0.5f, 0.5f, 0.5f], Std = [0.25f, 0.5f, 1f] };
        var path = Save(TestModels.Linear(3, 4, 4, W3, new float[4], settings: settings));
        using var classifier = Classifier.Load(path);
        classifier.Classify(TestImages.Png(TestImages.Solid(4, 4, 255, 0, 51), 4, 4));
        // (1 - .5)/.25 = 2 ; (0 - .5)/.5 = -1 ; (0.2 - .5)/1 = -0.3
        Assert.That(classifier.RawOutput().ToArray(), Is.EqualTo(new[] { 2f, -1f, -0.3f, 0.7f }).Within(1e-5f));
    }

    [Test]
    public void NhwcModelsAreFedInTheirLayout()
    {
        var path = Save(TestModels.Linear(3, 6, 6, W3, new float[4], settings: Plain("r", "g", "b", "sum"), nhwc: true));
        using var classifier = Classifier.Load(path);
        Assert.That(classifier.Model.Layout, Is.EqualTo(Imaging.TensorLayout.Nhwc));
        classifier.Classify(TestImages.Png(TestImages.Solid(6, 6, 51, 102, 204), 6, 6));
        Assert.That(classifier.RawOutput().ToArray(), Is.EqualTo(new[] { 0.2f, 0.4f, 0.8f, 1.4f }).Within(1e-5f));
    }

    [Test]
    public void WhatTheModelSeesIsThePreprocessedImage()
    {
        // A passthrough model returns its input: a 2x1 BGR gray-scaled… check exact values in NCHW order.
        var settings = new ModelSettings { Labels = [.. Enumerable.Range(0, 6).Select(i => $"v{i}")], Color = ColorOrder.Bgr, Scale = 1f, Mean = [0, 0, 0], Std = [1, 1, 1] };
        var path = Save(TestModels.Passthrough(3, 1, 2, settings));
        using var classifier = Classifier.Load(path);
        var rgba = new byte[] { 10, 20, 30, 255, 40, 50, 60, 255 };
        classifier.Classify(TestImages.Png(rgba, 2, 1));
        Assert.That(classifier.RawOutput().ToArray(), Is.EqualTo(new[] { 30f, 60f, 20f, 50f, 10f, 40f }));
    }

    [Test]
    public void BatchesGiveTheSameAnswersAsSingleImages()
    {
        var path = Save(TestModels.SmallConvNet(32));
        byte[][] images = [.. Enumerable.Range(0, 5).Select(i => TestImages.Png(TestImages.Pattern(50 + i, 40, seed: i), 50 + i, 40))];
        using var single = Classifier.Load(path, new ClassifierOptions { MaxBatch = 1 }, new ModelSettings { Labels = [.. Enumerable.Range(0, 10).Select(i => $"c{i}")] });
        var expected = images.Select(img => { single.Classify(img); return single.Scores().ToArray(); }).ToList();

        using var batched = Classifier.Load(path, new ClassifierOptions { MaxBatch = 8 });
        for (var i = 0; i < images.Length; i++) batched.LoadImage(images[i], i);
        batched.Run(images.Length);
        for (var i = 0; i < images.Length; i++)
            Assert.That(batched.Scores(i).ToArray(), Is.EqualTo(expected[i]).Within(1e-5f), $"image {i}");
    }

    [Test]
    public void TopKIsOrderedAndClampedToTheClassCount()
    {
        var path = Save(TestModels.Linear(3, 4, 4, W3, [0f, 0.1f, 0.2f, -5f], settings: Plain("a", "b", "c", "d")));
        using var classifier = Classifier.Load(path);
        var r = classifier.Classify(TestImages.Png(TestImages.Solid(4, 4, 0, 0, 0), 4, 4), top: 10);
        Assert.That(r.Top.Select(p => p.Label), Is.EqualTo(new[] { "c", "b", "a", "d" }));
        Assert.That(r.Top.Select(p => p.ClassIndex), Is.EqualTo(new[] { 2, 1, 0, 3 }));
    }

    [Test]
    public void SteadyStateAllocatesNothing()
    {
        var path = Save(TestModels.SmallConvNet(32));
        using var classifier = Classifier.Load(path, new ClassifierOptions { MaxBatch = 1 });
        var jpeg = TestImages.Jpeg(TestImages.Pattern(320, 240), 320, 240);
        var top = new Prediction[3];
        void Frame()
        {
            classifier.Decode(jpeg);
            classifier.Preprocess(0);
            classifier.Run(1);
            classifier.TopK(0, top);
        }
        for (var i = 0; i < 5; i++) Frame();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 50; i++) Frame();
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void AForeignModelRunsOnDefaultsWithOneWarning()
    {
        var path = Save(TestModels.SmallConvNet(32));
        var log = new ListLogger();
        using var classifier = Classifier.Load(path, logger: log);
        for (var i = 0; i < 3; i++) classifier.Classify(TestImages.Png(TestImages.Pattern(40, 40), 40, 40));
        Assert.That(log.Warnings.ToList(), Has.Count.EqualTo(1));
        Assert.That(log.Warnings.Single(), Does.Contain("does not state labels, color, resize, scale, mean, std"));
        Assert.That(classifier.Model.Labels, Is.EqualTo(Enumerable.Range(0, 10).Select(i => $"class_{i}")));
        Assert.That(classifier.Model.Preprocessing.Mean, Is.EqualTo(PreprocessingSpec.ImageNetMean));
        Assert.That(classifier.Model.Output, Is.EqualTo(OutputKind.Logits));
    }

    [Test]
    public void SidecarThenFlagsOverrideMetadata()
    {
        var path = Save(TestModels.Linear(3, 4, 4, W3, new float[4], settings: Plain("a", "b", "c", "d")), "net.onnx");
        File.WriteAllText(path + ".json", """{ "labels": ["w", "x", "y", "z"], "resize": "letterbox" }""");
        using (var c = Classifier.Load(path))
        {
            Assert.That(c.Model.Labels, Is.EqualTo(new[] { "w", "x", "y", "z" }));
            Assert.That(c.Model.LabelSource, Does.Contain("sidecar"));
            Assert.That(c.Model.Preprocessing.Resize, Is.EqualTo(ResizeMode.Letterbox));
        }
        using (var c = Classifier.Load(path, overrides: new ModelSettings { Labels = ["1", "2", "3", "4"] }))
        {
            Assert.That(c.Model.Labels, Is.EqualTo(new[] { "1", "2", "3", "4" }));
            Assert.That(c.Model.Preprocessing.Resize, Is.EqualTo(ResizeMode.Letterbox));
        }
    }

    [Test]
    public void BadSidecarNamesTheFileAndKey()
    {
        var path = Save(TestModels.SmallConvNet(32), "net.onnx");
        File.WriteAllText(_dir.File("net.json"), """{ "labels": ["a"], "resize": "zoom" }""");
        Assert.That(() => Classifier.Load(path), Throws.TypeOf<ModelLoadException>()
            .With.Message.Contains("net.json' key 'resize' = 'zoom'"));
        File.WriteAllText(_dir.File("net.json"), """{ "lables": ["a"] }""");
        Assert.That(() => Classifier.Load(path), Throws.TypeOf<ModelLoadException>().With.Message.Contains("lables"));
    }

    [Test]
    public void LabelsOfTheWrongLengthAreRefused()
    {
        var path = Save(TestModels.Linear(3, 4, 4, W3, new float[4], settings: Plain("a", "b", "c")));
        Assert.That(() => Classifier.Load(path), Throws.TypeOf<ModelLoadException>()
            .With.Message.Contains("outputs 4 class scores but 3 labels were given (from model metadata 'edge.labels')"));
    }

    [Test]
    public void ANonImageInputIsRefused()
    {
        var g = new GraphBuilder();
        var x = g.Input("features", DataType.Float, 1, 20);
        g.Initializer("w", new float[60], 20, 3);
        g.Output(g.Node("MatMul", [x, "w"], "y"), DataType.Float, 1, 3);
        var path = Save(g.Build());
        Assert.That(() => Classifier.Load(path), Throws.TypeOf<ModelLoadException>()
            .With.Message.Contains("input features: float[1, 20] has rank 2; expected an image tensor [N,C,H,W] or [N,H,W,C] with C = 1 or 3"));
    }

    [Test]
    public void AFourChannelInputIsRefused()
    {
        var g = new GraphBuilder();
        var x = g.Input("x", DataType.Float, 1, 4, 8, 8);
        g.Output(g.Node("Flatten", [x], "y"), DataType.Float, 1, 256);
        var path = Save(g.Build());
        Assert.That(() => Classifier.Load(path), Throws.TypeOf<ModelLoadException>().With.Message.Contains("is not an image tensor"));
    }

    [Test]
    public void AnIntegerInputIsRefused()
    {
        var g = new GraphBuilder();
        var x = g.Input("x", DataType.Uint8, 1, 3, 8, 8);
        var f = g.Node("Cast", [x], "f", null, Attr.Int("to", 1));
        g.Output(g.Node("Flatten", [f], "y"), DataType.Float, 1, 192);
        var path = Save(g.Build());
        Assert.That(() => Classifier.Load(path), Throws.TypeOf<ModelLoadException>().With.Message.Contains("is not a float32 tensor"));
    }

    [Test]
    public void TwoInputsAreRefused()
    {
        var g = new GraphBuilder();
        var a = g.Input("a", DataType.Float, 1, 3, 4, 4);
        var b = g.Input("b", DataType.Float, 1, 3, 4, 4);
        g.Output(g.Node("Flatten", [g.Node("Add", [a, b])], "y"), DataType.Float, 1, 48);
        var path = Save(g.Build());
        Assert.That(() => Classifier.Load(path), Throws.TypeOf<ModelLoadException>().With.Message.Contains("has 2 inputs (a, b)"));
    }

    [Test]
    public void ASymbolicSizeNeedsAnInputSize()
    {
        var g = new GraphBuilder();
        var x = g.Input("x", DataType.Float, "n", 3, "h", "w");
        g.Initializer("W", new float[6], 2, 3);
        var p = g.Node("Flatten", [g.Node("GlobalAveragePool", [x])]);
        g.Output(g.Node("Gemm", [p, "W"], "y", null, Attr.Int("transB", 1)), DataType.Float, "n", 2);
        var path = Save(g.Build());
        // The runtime says which setting is missing, not which flag a tool would take for it.
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(path))!;
        Assert.That(e.Message, Does.Contain("input_size").And.Not.Contain("--"));
        Assert.That(e.InnerException, Is.TypeOf<MissingSettingException>().With.Property(nameof(MissingSettingException.Setting)).EqualTo("input_size"));
        using var c = Classifier.Load(path, overrides: new ModelSettings { Width = 20, Height = 10 });
        Assert.That(c.Model.InputShape(1), Is.EqualTo(new[] { 1, 3, 10, 20 }));
        c.Classify(TestImages.Png(TestImages.Pattern(30, 30), 30, 30));
    }

    [Test]
    public void TruncatedAndRandomModelFilesAreRefused()
    {
        var good = TestModels.SmallConvNet().ToByteArray();
        var truncated = _dir.File("cut.onnx");
        File.WriteAllBytes(truncated, good[..(good.Length / 2)]);
        Assert.That(() => Classifier.Load(truncated), Throws.TypeOf<ModelLoadException>().With.Message.Contains("truncated"));

        var random = _dir.File("random.onnx");
        var bytes = new byte[10_000];
        new Random(5).NextBytes(bytes);
        File.WriteAllBytes(random, bytes);
        Assert.That(() => Classifier.Load(random), Throws.TypeOf<ModelLoadException>().With.Message.Contains("ONNX model"));

        var empty = _dir.File("empty.onnx");
        File.WriteAllBytes(empty, []);
        Assert.That(() => Classifier.Load(empty), Throws.TypeOf<ModelLoadException>().With.Message.Contains("is empty"));

        Assert.That(() => Classifier.Load(_dir.File("missing.onnx")), Throws.TypeOf<ModelLoadException>().With.Message.Contains("does not exist"));
    }

    [Test]
    public void AnUnavailableExecutionProviderFallsBackToCpuWithOneWarning()
    {
        var path = Save(TestModels.Linear(3, 4, 4, W3, new float[4], settings: Plain("a", "b", "c", "d")));
        var log = new ListLogger();
        using var c = Classifier.Load(path, new ClassifierOptions { ExecutionProviders = ["cuda", "tensorrt"] }, logger: log);
        Assert.That(c.ExecutionProviders, Is.EqualTo(new[] { "cpu" }));
        Assert.That(log.Warnings.Count(w => w.Contains("running on CPU")), Is.EqualTo(2));
        Assert.That(log.Warnings.First(), Does.Contain("'cuda' is not in this ONNX Runtime build"));
        c.Classify(TestImages.Png(TestImages.Solid(4, 4, 1, 2, 3), 4, 4));
    }

    [Test]
    public void SoftmaxIsStableForHugeLogits()
    {
        var p = new float[3];
        Classifier.Softmax([1000f, 1000f, -1000f], p);
        Assert.That(p, Is.EqualTo(new[] { 0.5f, 0.5f, 0f }).Within(1e-6f));
    }
}
