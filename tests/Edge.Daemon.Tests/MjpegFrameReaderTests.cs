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

    /// <summary>Reads of random sizes from a seeded generator.</summary>
    private sealed class RandomChunkStream(byte[] data, Random rng) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, rng.Next(1, 9000)));
    }

    [Test]
    public void FuzzedStreamsYieldOnlyWholeBoundedFramesAndAccountForEveryByte()
    {
        var rng = new Random(777);
        byte[][] jpegs = [Jpeg(1), Jpeg(2, 96), Jpeg(3, 16), TestImages.Jpeg(TestImages.Pattern(320, 240, 4), 320, 240, 90)];
        const int max = 16 * 1024;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        long streams = 0, frames = 0, bytes = 0;
        for (; streams < 20_000 && watch.Elapsed < TimeSpan.FromSeconds(10); streams++)
        {
            var parts = new List<byte>();
            for (var p = rng.Next(1, 12); p > 0; p--)
            {
                switch (rng.Next(7))
                {
                    case 0 or 1: parts.AddRange(jpegs[rng.Next(jpegs.Length)]); break;
                    case 2: { var junk = new byte[rng.Next(0, 3000)]; rng.NextBytes(junk); parts.AddRange(junk); break; }
                    case 3: parts.AddRange(new byte[] { 0xFF, 0xD8, 0xFF }); break;                       // a start with no end yet
                    case 4: parts.AddRange(new byte[] { 0xFF, 0xD9, 0xFF, 0xFF, 0xD8 }); break;           // stray markers
                    case 5: { var j = jpegs[rng.Next(jpegs.Length)]; parts.AddRange(j[..rng.Next(j.Length)]); break; } // a cut frame
                    default: parts.AddRange(Enumerable.Repeat((byte)0xFF, rng.Next(1, 50))); break;
                }
            }
            var data = parts.ToArray();
            bytes += data.Length;
            var reader = new MjpegFrameReader(new RandomChunkStream(data, rng), max);
            long inFrames = 0;
            while (true)
            {
                var f = reader.ReadFrame();
                if (f.IsEmpty) break;
                var span = f.Span;
                Assert.That(span.Length, Is.LessThanOrEqualTo(max));
                Assert.That(span[0] == 0xFF && span[1] == 0xD8 && span[2] == 0xFF, Is.True, "starts with SOI");
                Assert.That(span[^2] == 0xFF && span[^1] == 0xD9, Is.True, "ends with EOI");
                inFrames += span.Length;
                frames++;
            }
            Assert.That(inFrames + reader.SkippedBytes, Is.EqualTo(data.Length), "every byte is a frame's or counted as skipped");
        }
        TestContext.Out.WriteLine($"MJPEG streams: {streams} fuzzed streams ({bytes / 1e6:0.0} MB) in {watch.Elapsed.TotalSeconds:0.0} s, {frames} frames; 0 crashes");
        Assert.That(streams, Is.GreaterThan(200));
    }
}
