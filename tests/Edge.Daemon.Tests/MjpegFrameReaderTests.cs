using System.Text;
using Edge.Daemon.Capture;

namespace Edge.Daemon.Tests;

public class MjpegFrameReaderTests
{
    /// <summary>Returns at most <c>chunk</c> bytes per read, so markers straddle read boundaries.</summary>
    private sealed class TrickleStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, chunk));
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], ct);
    }

    private static byte[] Jpeg(int seed, int size = 48) => TestImages.Jpeg(TestImages.Pattern(size, size, seed), size, size, 80);

    private static async Task<List<byte[]>> ReadAll(MjpegFrameReader reader)
    {
        var frames = new List<byte[]>();
        while (true)
        {
            var f = reader.ReadFrame();
            if (f.IsEmpty) return frames;
            frames.Add(f.ToArray());
        }
    }

    [TestCase(1)]
    [TestCase(3)]
    [TestCase(4096)]
    public async Task SplitsConcatenatedJpegsWhateverTheReadSizes(int chunk)
    {
        byte[][] jpegs = [Jpeg(1), Jpeg(2), Jpeg(3)];
        var reader = new MjpegFrameReader(new TrickleStream([.. jpegs.SelectMany(j => j)], chunk));
        var frames = await ReadAll(reader);
        Assert.That(frames, Is.EqualTo(jpegs));
        Assert.That(reader.SkippedBytes, Is.Zero);
    }

    [Test]
    public async Task MultipartHeadersAndGarbageAreSkippedAndCounted()
    {
        byte[][] jpegs = [Jpeg(4), Jpeg(5)];
        var head = Encoding.ASCII.GetBytes("--frame\r\nContent-Type: image/jpeg\r\nContent-Length: 123\r\n\r\n");
        var noise = new byte[] { 0xFF, 0x00, 0xFF, 0xD9, 1, 2, 3 };
        byte[] stream = [.. noise, .. head, .. jpegs[0], (byte)'\r', (byte)'\n', .. head, .. jpegs[1], .. noise];
        var reader = new MjpegFrameReader(new TrickleStream(stream, 7));
        Assert.That(await ReadAll(reader), Is.EqualTo(jpegs));
        Assert.That(reader.SkippedBytes, Is.EqualTo(noise.Length * 2 + head.Length * 2 + 2));
    }

    [Test]
    public async Task AnOversizedFrameIsDroppedAndTheNextOneRead()
    {
        var big = Jpeg(6, 256);
        var small = Jpeg(7, 16);
        Assert.That(big.Length, Is.GreaterThan(4096));
        var reader = new MjpegFrameReader(new MemoryStream([.. big, .. small]), maxFrameBytes: 4096);
        var frames = await ReadAll(reader);
        Assert.That(frames.Last(), Is.EqualTo(small));
        Assert.That(reader.OversizedFrames, Is.EqualTo(1));
    }

    [Test]
    public async Task ATruncatedLastFrameIsNotReturned()
    {
        var a = Jpeg(8);
        var b = Jpeg(9);
        var reader = new MjpegFrameReader(new MemoryStream([.. a, .. b[..(b.Length / 2)]]));
        Assert.That(await ReadAll(reader), Is.EqualTo(new[] { a }));
    }
}
