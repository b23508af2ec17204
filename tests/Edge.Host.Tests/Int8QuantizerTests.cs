using Edge.Host.Datasets;
using Edge.Host.Quantization;
using Edge.Onnx.Model;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.Host.Tests;

/// <summary>
/// End to end on a model this project did not write: tests/fixtures/fmnist_convnet.onnx, trained
/// and exported by Debian's PyTorch (BatchNorm kept, a residual Add, a Shape/Gather/Concat/Reshape
/// view), calibrated and evaluated on real Fashion-MNIST images.
/// </summary>
public class Int8QuantizerTests
{
    private static string Fixture => Path.Combine(RepoPaths.Root, "tests", "fixtures", "fmnist_convnet.onnx");

    [Category(Needs.FashionMnist), Category(Needs.Python)]
    [Test]
    public void ATorchExportedConvnetQuantizesAndAgreesWithItsFp32Version()
    {
        using var dir = new TempDir();
        var output = dir.File("int8.onnx");
        var report = Int8Quantizer.Quantize(new QuantizeRequest
        {
            InputPath = Fixture,
            OutputPath = output,
            Calibration = IdxImageSet.FashionMnist("train"),
            Samples = 256,
            Evaluation = IdxImageSet.FashionMnist("test"),
            EvaluationSamples = 2000,
            MeasureLatency = false,
        });
        Python.CheckModel(output);
        Assert.That(report.Preparation.BatchNormsFolded, Is.EqualTo(2));
        Assert.That(report.CalibrationImages, Is.EqualTo(256));
        Assert.That(report.Weights, Has.Count.EqualTo(4), "three convs and the classifier");
        Assert.That(report.Fusion.FloatComputeNodes, Is.Empty, "ONNX Runtime runs every Conv/Gemm on integers");
        Assert.That(report.Fusion.IntegerKernels, Is.EqualTo(4));
        Assert.That(report.Evaluation!.Images, Is.EqualTo(2000));
        Assert.That(report.Evaluation.Top1Agreement, Is.GreaterThanOrEqualTo(98.0));
        Assert.That(report.Evaluation.Fp32Accuracy!.Value - report.Evaluation.Int8Accuracy!.Value, Is.LessThan(1.0));
        Assert.That(report.LayerErrors.All(e => e.SqnrDb > 20), Is.True, "every layer keeps at least 20 dB SQNR");
        var metadata = OnnxModelFile.Load(output).MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.That(metadata["edge.preprocess.color"], Is.EqualTo("gray"), "the model's metadata is kept");
        Assert.That(metadata["edge.quantization"], Does.Contain("per-channel"));
    }

    [Test]
    public void UndecodableCalibrationImagesAreSkippedAndCounted()
    {
        using var dir = new TempDir();
        var images = Directory.CreateDirectory(dir.File("cal")).FullName;
        for (var i = 0; i < 4; i++)
            File.WriteAllBytes(Path.Combine(images, $"ok{i}.png"), TestImages.Png(TestImages.Pattern(28, 28, seed: i), 28, 28));
        File.WriteAllText(Path.Combine(images, "broken.jpg"), "not a jpeg");
        File.WriteAllBytes(Path.Combine(images, "empty.png"), []);
        var report = Int8Quantizer.Quantize(new QuantizeRequest
        {
            InputPath = Fixture,
            OutputPath = dir.File("int8.onnx"),
            Calibration = new FolderImageSet(images),
            MeasureLatency = false,
            ErrorSamples = 4,
        });
        Assert.That(report.CalibrationImages, Is.EqualTo(4));
        Assert.That(report.CalibrationSkipped, Is.EqualTo(2));
        Assert.That(report.SkipReasons, Has.Some.Contains("broken.jpg"));
    }

    [Test]
    public void ACalibrationSetWithNoUsableImageIsRefused()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a.jpg"), "x");
        File.WriteAllText(dir.File("b.png"), "y");
        Assert.That(() => Int8Quantizer.Quantize(new QuantizeRequest
        {
            InputPath = Fixture, OutputPath = dir.File("o.onnx"), Calibration = new FolderImageSet(dir.Path), MeasureLatency = false,
        }), Throws.TypeOf<QuantizationException>().With.Message.Contains("no calibration image could be used (2 failed to decode"));
    }

    [Category(Needs.FashionMnist)]
    [Test]
    public void AModelThatIsNotAClassifierIsRefused()
    {
        using var dir = new TempDir();
        var g = new GraphBuilder();
        var x = g.Input("features", DataType.Float, 1, 20);
        g.Initializer("w", new float[60], 20, 3);
        g.Output(g.Node("MatMul", [x, "w"], "y"), DataType.Float, 1, 3);
        var path = TestModels.Save(g.Build(), dir.File("tabular.onnx"));
        Assert.That(() => Int8Quantizer.Quantize(new QuantizeRequest
        {
            InputPath = path, OutputPath = dir.File("o.onnx"), Calibration = IdxImageSet.FashionMnist("test"), MeasureLatency = false,
        }), Throws.TypeOf<QuantizationException>().With.Message.Contains("not an image classifier Edge can run").And.Message.Contains("rank 2"));
    }

    [Category(Needs.FashionMnist)]
    [Test]
    public void AnAlreadyQuantizedModelIsRefused()
    {
        using var dir = new TempDir();
        var first = dir.File("int8.onnx");
        Int8Quantizer.Quantize(new QuantizeRequest
        {
            InputPath = Fixture, OutputPath = first, Calibration = IdxImageSet.FashionMnist("train"), Samples = 32, MeasureLatency = false, ErrorSamples = 4,
        });
        Assert.That(() => Int8Quantizer.Quantize(new QuantizeRequest
        {
            InputPath = first, OutputPath = dir.File("again.onnx"), Calibration = IdxImageSet.FashionMnist("train"), Samples = 32, MeasureLatency = false,
        }), Throws.TypeOf<QuantizationException>().With.Message.Contains("already quantized"));
    }

    [Category(Needs.FashionMnist)]
    [Test]
    public void AutoExcludeNeedsAnEvaluationSetAndTheLibraryNamesNoFlag()
    {
        using var dir = new TempDir();
        Assert.That(() => Int8Quantizer.Quantize(new QuantizeRequest
        {
            InputPath = Fixture, OutputPath = dir.File("o.onnx"), Calibration = IdxImageSet.FashionMnist("train"), AutoExclude = true,
        }), Throws.ArgumentException.With.Message.Contains("needs an evaluation set").And.Message.Not.Contains("--"));
    }

    [Category(Needs.FashionMnist)]
    [Test]
    public void AutoExcludeKeepsTheWorstLayersInFp32UntilTheLossIsUnderTheBound()
    {
        using var dir = new TempDir();
        // A bound of -1 point can never be met: every round must exclude one more layer, worst first.
        var report = Int8Quantizer.Quantize(new QuantizeRequest
        {
            InputPath = Fixture, OutputPath = dir.File("o.onnx"), Calibration = IdxImageSet.FashionMnist("train"), Samples = 64,
            Evaluation = IdxImageSet.FashionMnist("test"), EvaluationSamples = 200, AutoExclude = true, MaxLoss = -1, MaxAutoExclusions = 2,
            MeasureLatency = false, ErrorSamples = 8,
        });
        Assert.That(report.AutoExcluded, Has.Count.EqualTo(2));
        Assert.That(report.Weights, Has.Count.EqualTo(2));
        Assert.That(report.KeptFloat.Count(k => k.Contains("excluded")), Is.EqualTo(2));
    }
}
