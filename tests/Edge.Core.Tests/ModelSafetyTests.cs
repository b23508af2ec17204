using System.Diagnostics;
using Edge.Core.Inference;
using Edge.Onnx.Model;
using Microsoft.ML.OnnxRuntime;
using Google.Protobuf;

namespace Edge.Core.Tests;

/// <summary>
/// Models are input from outside. These are the ways a model could hurt the daemon: read other files,
/// declare sizes that allocate gigabytes, fail or produce NaN only once real frames arrive.
/// </summary>
[NonParallelizable]
public class ModelSafetyTests
{
    private static string Save(TempDir dir, Onnx.Protos.ModelProto model, string name = "m.onnx") => TestModels.Save(model, dir.File(name));

    /// <summary>16 bytes whose floats are 1000, 2000, 3000, 4000: if they reach the scores, the file leaked.</summary>
    private static void WriteSecret(string path)
    {
        var bytes = new byte[16];
        Buffer.BlockCopy(new[] { 1000f, 2000f, 3000f, 4000f }, 0, bytes, 0, 16);
        File.WriteAllBytes(path, bytes);
    }

    [Test]
    public void AConstantNodeWithExternalDataWouldReadAFileFromTheWorkingDirectoryAndIsRefused()
    {
        using var dir = new TempDir();
        WriteSecret(dir.File("secret.bin"));
        var model = HostileModels.ConstantReadingAFile("secret.bin");
        var path = Save(dir, model);

        // The danger is real: ONNX Runtime, given the bytes, resolves the path from the working directory.
        var previous = Environment.CurrentDirectory;
        float[] leaked;
        try
        {
            Environment.CurrentDirectory = dir.Path;
            using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
            using var session = new InferenceSession(model.ToByteArray(), options);
            using var input = OrtValue.CreateTensorValueFromMemory(new float[3 * 16 * 16], [1, 3, 16, 16]);
            using var outputs = session.Run(new RunOptions(), ["image"], [input], ["scores"]);
            leaked = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }
        Assert.That(leaked, Is.EqualTo(new[] { 1000f, 2000f, 3000f, 4000f }), "bare ONNX Runtime reads the file into the scores");

        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(path))!;
        Assert.That(e.Message, Does.Contain("external data").And.Contain("leak_value").And.Contain("node 'leak'"));
    }

    [Test]
    public void ExternalDataInsideASubgraphIsRefused()
    {
        using var dir = new TempDir();
        var path = Save(dir, HostileModels.SubgraphReadingAFile("/etc/hostname"));
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(path))!;
        Assert.That(e.Message, Does.Contain("external data").And.Contain("node 'if' attribute 'then_branch'"));
    }

    [Test]
    public void ExternalDataInAFunctionOrASparseInitializerOrAnEpContextNodeIsRefused()
    {
        using var dir = new TempDir();
        var withFunction = HostileModels.WithLabels(HostileModels.FourLabels);
        var function = new Onnx.Protos.FunctionProto { Name = "f", Domain = "local" };
        function.Node.Add(new Onnx.Protos.NodeProto { OpType = "Constant", Output = { "c" }, Attribute = { Attr.Tensor("value", HostileModels.ExternalTensor("t", "x.bin", 1)) } });
        withFunction.Functions.Add(function);
        Assert.That(Assert.Throws<ModelLoadException>(() => Classifier.Load(Save(dir, withFunction, "f.onnx")))!.Message, Does.Contain("function 'f'"));

        var sparse = HostileModels.WithLabels(HostileModels.FourLabels);
        sparse.Graph.SparseInitializer.Add(new Onnx.Protos.SparseTensorProto { Values = HostileModels.ExternalTensor("v", "x.bin", 1), Indices = TensorData.FromInt64s("i", [0], 1), Dims = { 4 } });
        Assert.That(Assert.Throws<ModelLoadException>(() => Classifier.Load(Save(dir, sparse, "s.onnx")))!.Message, Does.Contain("sparse initializer"));

        var ep = HostileModels.WithLabels(HostileModels.FourLabels);
        ep.Graph.Node.Add(new Onnx.Protos.NodeProto { OpType = "EPContext", Domain = "com.microsoft", Name = "ctx", Input = { "image" }, Output = { "unused" } });
        Assert.That(Assert.Throws<ModelLoadException>(() => Classifier.Load(Save(dir, ep, "e.onnx")))!.Message, Does.Contain("EPContext"));
    }

    [Test]
    public void FieldsOutsideTheSchemaAreDroppedBeforeOnnxRuntimeSeesTheModel()
    {
        using var dir = new TempDir();
        var model = HostileModels.WithLabels(HostileModels.FourLabels);
        var bytes = HostileModels.WithUnknownField(model, new byte[1000]);
        File.WriteAllBytes(dir.File("u.onnx"), bytes);
        var parsed = OnnxModelFile.Parse(bytes);
        Assert.That(parsed.ToByteArray().Length, Is.EqualTo(model.ToByteArray().Length), "the unknown field is gone");
        using var c = Classifier.Load(dir.File("u.onnx"));
        Assert.That(c.ClassCount, Is.EqualTo(4));
    }

    [TestCase(50_000_000L, "declares 50000000 classes")]
    [TestCase(100_001L, "declares 100001 classes")]
    public void AModelDeclaringMillionsOfClassesIsRefusedAtOnceWithoutAllocating(long classes, string expected)
    {
        using var dir = new TempDir();
        var path = Save(dir, HostileModels.DeclaringClasses(classes));
        var before = GC.GetTotalAllocatedBytes(true);
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(path))!;
        Assert.That(e.Message, Does.Contain(expected).And.Contain("at most 100000"));
        Assert.That(GC.GetTotalAllocatedBytes(true) - before, Is.LessThan(20_000_000), "no per-class allocation");
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
    }

    [TestCase(50_000, 50_000, false, "50000x50000 pixels")]
    [TestCase(4097, 16, false, "4097x16 pixels")]
    [TestCase(30_000, 30_000, true, "is not a size")]
    public void HugeInputSizesAreRefusedBeforeAnyTensorExists(long w, long h, bool inMetadata, string expected)
    {
        using var dir = new TempDir();
        var path = Save(dir, HostileModels.InputOf(w, h, inMetadata));
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(path))!;
        Assert.That(e.Message, Does.Contain(expected));
    }

    [Test]
    public void AHugeFixedBatchIsRefused()
    {
        using var dir = new TempDir();
        var model = TestModels.Linear(3, 16, 16, new float[,] { { 1, 0, 0 }, { 0, 1, 0 } }, [0, 0], batch: 1_000_000);
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(Save(dir, model)))!;
        Assert.That(e.Message, Does.Contain("fixed batch of 1000000"));
        model = TestModels.Linear(3, 1024, 1024, new float[,] { { 1, 0, 0 }, { 0, 1, 0 } }, [0, 0], batch: 200);
        e = Assert.Throws<ModelLoadException>(() => Classifier.Load(Save(dir, model)))!;
        Assert.That(e.Message, Does.Contain("MiB of input memory"));
    }

    [Test]
    public void LargeInputsGetSmallerBatchesNotGigabytes()
    {
        using var dir = new TempDir();
        var model = TestModels.Linear(3, 4096, 4096, new float[,] { { 1, 0, 0 }, { 0, 1, 0 } }, [0, 0],
            settings: new Onnx.Metadata.ModelSettings { Labels = ["x", "y"], Mean = [0f], Std = [1f] });
        using var c = Classifier.Load(Save(dir, model), new ClassifierOptions { MaxBatch = 8 });
        // 3 x 4096 x 4096 floats are 192 MiB: two fit in the 512 MiB input budget.
        Assert.That(c.MaxBatch, Is.EqualTo(2));
    }

    [TestCase("tab\there")]
    [TestCase("line\nbreak")]
    public void LabelsWithControlCharactersAreRefused(string label)
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(Save(dir, HostileModels.WithLabels(["ok", label]))))!;
        Assert.That(e.Message, Does.Contain("label 1 contains a control character"));
        e = Assert.Throws<ModelLoadException>(() => Classifier.Load(Save(dir, HostileModels.WithLabels(["ok", new string('x', 201)]))))!;
        Assert.That(e.Message, Does.Contain("label 1 is 201 characters long"));
    }

    [Test]
    public void AModelWhoseOutputDiffersFromWhatItDeclaresIsRefusedAtLoad()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(Save(dir, HostileModels.AlwaysWrongWidth())))!;
        Assert.That(e.Message, Does.Contain("m.onnx"));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void NaNWeightsAreRefusedAtLoad()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(Save(dir, HostileModels.NaNWeights())))!;
        Assert.That(e.Message, Does.Contain("non-finite scores").And.Contain("corrupt"));
    }

    [Test]
    public void NaNOnRealImagesIsAnInferenceErrorNotAScore()
    {
        using var dir = new TempDir();
        using var c = Classifier.Load(Save(dir, HostileModels.NaNOnBrightImages()), new ClassifierOptions { MaxBatch = 2 });
        var black = TestImages.SolidJpeg(32, 32, 0, 0, 0);
        var white = TestImages.SolidJpeg(32, 32, 255, 255, 255);
        Assert.That(c.Classify(black).Top[0].Score, Is.GreaterThan(0f), "dark images (mean 0) are fine");
        var e = Assert.Throws<InferenceException>(() => c.Classify(white))!;
        Assert.That(e.NonFinite, Is.True);
        Assert.That(e.Message, Does.Contain("non-finite scores"));
        // In a batch, only the bad image is marked.
        c.LoadImage(black, 0);
        c.LoadImage(white, 1);
        Assert.Throws<InferenceException>(() => c.Run(2));
        Assert.That(c.ScoresFinite(0), Is.True);
        Assert.That(c.ScoresFinite(1), Is.False);
    }

    [Test]
    public void AModelThatFailsOnlyOnRealFramesLoadsAndThenThrowsAnInferenceError()
    {
        using var dir = new TempDir();
        using var c = Classifier.Load(Save(dir, HostileModels.WrongWidthOnBrightImages()));
        Assert.That(c.Classify(TestImages.SolidJpeg(32, 32, 10, 10, 10)).Top, Has.Count.EqualTo(4));
        var e = Assert.Throws<InferenceException>(() => c.Classify(TestImages.SolidJpeg(32, 32, 250, 250, 250)))!;
        Assert.That(e.Message, Does.StartWith("ONNX Runtime failed:"));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void AModelPathThatIsNotARegularFileIsRefusedWithoutReadingIt()
    {
        using var dir = new TempDir();
        File.CreateSymbolicLink(dir.File("zero.onnx"), "/dev/zero");
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(dir.File("zero.onnx")))!;
        Assert.That(e.Message, Does.Contain("is a character device, not a regular file"));
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
        Assert.That(Process.Start("mkfifo", [dir.File("fifo.onnx")])!.WaitForExit(5000), Is.True);
        e = Assert.Throws<ModelLoadException>(() => Classifier.Load(dir.File("fifo.onnx")))!;
        Assert.That(e.Message, Does.Contain("FIFO"));
    }

    [Test]
    public void ProbabilitiesOutsideZeroToOneAreAnErrorNotAScore()
    {
        using var dir = new TempDir();
        // Loads (its test input gives 3e38, "probabilities"), and is then refused as such at load.
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(Save(dir, HostileModels.HugeProbabilities())))!;
        Assert.That(e.Message, Does.Contain("non-finite scores").Or.Contain("probabilities outside"));
    }

    [Test]
    public void AModelWhoseOneInferenceTakesTooMuchMemoryIsRefused()
    {
        using var dir = new TempDir();
        var path = Save(dir, HostileModels.MemoryHungry(50_000_000)); // 200 MB of intermediate for a 1 KB file
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(path, new ClassifierOptions { MaxInferenceBytes = 64L << 20 }))!;
        Assert.That(e.Message, Does.Match(@"took \d+ MiB beyond its weights to load and classify one test input").And.Contain("the limit is 64 MiB"));
        using var ok = Classifier.Load(path, new ClassifierOptions { MaxInferenceBytes = 1L << 30 });
        Assert.That(ok.ClassCount, Is.EqualTo(4), "under a larger limit it runs");
    }

    [TestCase("nan/1", "mean", "is not a number")]
    [TestCase("1e300/1", "mean", "is not a number")]
    [TestCase("1e-45", "std", "std values must be positive, in [1e-6, 1e6]")]
    [TestCase("1e7", "mean", "mean values must be finite numbers within")]
    [TestCase("0", "scale", "scale must be in (0, 1e4]")]
    public void PreprocessingThatCouldNeverWorkIsRefusedAtLoad(string value, string field, string expected)
    {
        using var dir = new TempDir();
        var model = HostileModels.WithLabels(HostileModels.FourLabels);
        var key = "edge.preprocess." + field;
        foreach (var p in model.MetadataProps.Where(p => p.Key == key).ToList()) model.MetadataProps.Remove(p);
        model.MetadataProps.Add(new Onnx.Protos.StringStringEntryProto { Key = key, Value = value });
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(Save(dir, model)))!;
        Assert.That(e.Message, Does.Contain(expected));
    }

    [Test]
    public void SidecarsAreCheckedLikeMetadata()
    {
        using var dir = new TempDir();
        var path = Save(dir, HostileModels.WithLabels(HostileModels.FourLabels));
        void Sidecar(string json) => File.WriteAllText(path + ".json", json);
        Sidecar("""{ "labels": ["a\nb", "c", "d", "e"] }""");
        Assert.That(Assert.Throws<ModelLoadException>(() => Classifier.Load(path))!.Message, Does.Contain("label 0 contains a control character"));
        Sidecar("""{ "labels": ["a", "b", "c", ""] }""");
        Assert.That(Assert.Throws<ModelLoadException>(() => Classifier.Load(path))!.Message, Does.Contain("label 3 is empty"));
        // Given but blank is a mistake in a sidecar, not "use the default": each is refused with its key.
        foreach (var blank in new[] { """{ "mean": [] }""", """{ "std": [] }""", """{ "color": "" }""", """{ "resize": " " }""", """{ "output": "" }""", """{ "input_size": "" }""" })
        {
            Sidecar(blank);
            var key = blank.Split('"')[1];
            Assert.That(Assert.Throws<ModelLoadException>(() => Classifier.Load(path))!.Message, Does.EndWith($"key '{key}' is empty"), blank);
        }
        Sidecar("""{ "mean": [1e39, 0, 0] }""");
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(path))!;
        // The sidecar's values go through the same reader as metadata's: the same words, the key named.
        Assert.That(e.Message, Does.EndWith("key 'mean' = 'Infinity' is not a number"));
        Assert.That(e.Message, Does.Not.Contain("System."));
        Sidecar("""{ "labelz": ["a"] }""");
        e = Assert.Throws<ModelLoadException>(() => Classifier.Load(path))!;
        Assert.That(e.Message, Does.Contain("an unknown key"));
        File.WriteAllBytes(path + ".json", [0xEF, 0xBB, 0xBF, .. "{ \"labels\": [\"w\", \"x\", \"y\", \"z\"] }"u8]);
        using var c = Classifier.Load(path);
        Assert.That(c.Model.Labels, Is.EqualTo(new[] { "w", "x", "y", "z" }), "a byte-order mark is fine");
    }

    [Test]
    public void OnnxRuntimeErrorsKeepTheirReasonInOneLine()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ModelLoadException>(() => Classifier.Load(Save(dir, HostileModels.AlwaysWrongWidth())))!;
        Assert.That(e.Message, Does.Contain("node 'fc' (Gemm)").And.Contain("{1,4}").And.Contain("{1,6}"));
        Assert.That(e.Message, Does.Not.Contain("onnxruntime_src").And.Not.Contain("When calling Run()"));
    }
}
