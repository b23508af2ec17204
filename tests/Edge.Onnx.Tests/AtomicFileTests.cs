using Edge.Onnx.IO;

namespace Edge.Onnx.Tests;

public class AtomicFileTests
{
    [Test]
    public void AFailedWriteLeavesTheOldFileWholeAndNoTemporary()
    {
        using var dir = new TempDir();
        var path = dir.File("model.onnx");
        AtomicFile.Write(path, new byte[] { 1, 2, 3 });
        Assert.That(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[1000]);
            throw new IOException("disk full");
        }), Throws.TypeOf<IOException>());
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(Directory.GetFiles(dir.Path), Is.EqualTo(new[] { path }), "the temporary file is removed");
    }

    [Test]
    public void AReaderSeesTheOldFileOrTheNewOneNeverAMix()
    {
        using var dir = new TempDir();
        var path = dir.File("report.json");
        var a = Enumerable.Repeat((byte)'a', 1 << 20).ToArray();
        var b = Enumerable.Repeat((byte)'b', 1 << 20).ToArray();
        AtomicFile.Write(path, a);
        var writer = Task.Run(() =>
        {
            for (var i = 0; i < 40; i++) AtomicFile.Write(path, i % 2 == 0 ? b : a);
        });
        var reads = 0;
        while (!writer.IsCompleted || reads == 0)
        {
            var seen = File.ReadAllBytes(path);
            Assert.That(seen, Has.Length.EqualTo(1 << 20));
            Assert.That(seen.Distinct().Count(), Is.EqualTo(1), "a whole file, one kind of byte");
            reads++;
        }
        writer.Wait();
        Assert.That(Directory.GetFiles(dir.Path), Has.Length.EqualTo(1));
    }
}
