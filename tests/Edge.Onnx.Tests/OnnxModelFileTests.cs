using Edge.Onnx.Model;
using Google.Protobuf;

namespace Edge.Onnx.Tests;

public class OnnxModelFileTests
{
    private static byte[] Good => TestModels.SmallConvNet().ToByteArray();

    [Test]
    public void EmptyFile() =>
        Assert.That(() => OnnxModelFile.Parse([], "m.onnx"), Throws.TypeOf<OnnxFormatException>().With.Message.Contains("is empty (0 bytes)"));

    [Test]
    public void TruncatedFile()
    {
        var bytes = Good;
        Assert.That(() => OnnxModelFile.Parse(bytes.AsSpan(0, bytes.Length * 2 / 3), "m.onnx"),
            Throws.TypeOf<OnnxFormatException>().With.Message.Contains("truncated"));
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void RandomBytes(int seed)
    {
        var bytes = new byte[4096];
        new Random(seed).NextBytes(bytes);
        Assert.That(() => OnnxModelFile.Parse(bytes, "noise.bin"),
            Throws.TypeOf<OnnxFormatException>().With.Message.Contains("not a valid ONNX model").Or.Message.Contains("is not an ONNX model"));
    }

    [Test]
    public void TextFile() =>
        Assert.That(() => OnnxModelFile.Parse("hello, this is not a model\n"u8, "notes.txt"), Throws.TypeOf<OnnxFormatException>());

    [Test]
    public void ValidProtobufThatIsNotAModel()
    {
        // A well-formed protobuf message of another kind: parses, but has no graph or opsets.
        var other = new Edge.Onnx.Protos.TensorProto { DocString = "a tensor, not a model" }.ToByteArray();
        Assert.That(() => OnnxModelFile.Parse(other, "t.pb"),
            Throws.TypeOf<OnnxFormatException>().With.Message.Contains("is not an ONNX model"));
    }

    [Test]
    public void SaveAndLoadRoundTrip()
    {
        using var dir = new TempDir();
        var path = dir.File("m.onnx");
        var model = TestModels.SmallConvNet();
        OnnxModelFile.Save(model, path);
        Assert.That(OnnxModelFile.Load(path), Is.EqualTo(model));
        Assert.That(Directory.GetFiles(dir.Path), Has.Length.EqualTo(1), "no temporary file left behind");
    }
}
