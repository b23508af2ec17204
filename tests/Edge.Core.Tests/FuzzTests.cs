using System.Diagnostics;
using Edge.Core.Imaging;
using Edge.Core.Inference;
using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using Google.Protobuf;
using SkiaSharp;

namespace Edge.Core.Tests;

/// <summary>
/// Seeded, time-bounded fuzzing of what comes from outside: mutated images must decode or fail with an
/// <see cref="ImageDecodeException"/>, mutated models must load or fail with a
/// <see cref="ModelLoadException"/> (and, loaded, classify or fail with an <see cref="InferenceException"/>).
/// Anything else (another exception, a crash, a hang) is a bug. Counts go to the test output.
/// </summary>
[NonParallelizable]
public class FuzzTests
{
    private static readonly string Samples = Path.Combine(RepoPaths.Models, "samples");

    private static List<byte[]> ImageSeeds()
    {
        var seeds = Directory.GetFiles(Samples, "*.jpg").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
        seeds.AddRange(Directory.GetFiles(Path.Combine(RepoPaths.Models, "fashion-samples"), "*.png").Order(StringComparer.Ordinal).Take(3).Select(File.ReadAllBytes));
        var pixels = TestImages.Pattern(61, 47, 5);
        seeds.Add(TestImages.Encode(pixels, 61, 47, SKEncodedImageFormat.Webp, 80));
        seeds.Add(Bmp(pixels, 61, 47));
        seeds.Add(TestImages.Jpeg(pixels, 61, 47, 30));
        // A minimal GIF (1x1, one colour): Skia does not write GIFs.
        seeds.Add(Convert.FromBase64String("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="));
        return seeds;
    }

    /// <summary>A 24-bit bottom-up BMP (Skia does not write BMPs).</summary>
    private static byte[] Bmp(byte[] rgba, int w, int h)
    {
        var row = (w * 3 + 3) & ~3;
        var b = new byte[54 + row * h];
        "BM"u8.CopyTo(b);
        BitConverter.GetBytes(b.Length).CopyTo(b, 2);
        BitConverter.GetBytes(54).CopyTo(b, 10);
        BitConverter.GetBytes(40).CopyTo(b, 14);
        BitConverter.GetBytes(w).CopyTo(b, 18);
        BitConverter.GetBytes(h).CopyTo(b, 22);
        BitConverter.GetBytes((short)1).CopyTo(b, 26);
        BitConverter.GetBytes((short)24).CopyTo(b, 28);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var s = ((h - 1 - y) * w + x) * 4;
                var d = 54 + y * row + x * 3;
                (b[d], b[d + 1], b[d + 2]) = (rgba[s + 2], rgba[s + 1], rgba[s]);
            }
        return b;
    }

    /// <summary>One of a dozen mutations, chosen and parameterised by <paramref name="rng"/>.</summary>
    internal static byte[] Mutate(byte[] seed, Random rng, IReadOnlyList<byte[]> others)
    {
        var b = (byte[])seed.Clone();
        switch (rng.Next(10))
        {
            case 0: // flip a few bits
                for (var i = rng.Next(1, 9); i > 0; i--) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                return b;
            case 1: // interesting byte values
                for (var i = rng.Next(1, 5); i > 0; i--) b[rng.Next(b.Length)] = (byte)new[] { 0x00, 0xFF, 0x7F, 0x80, 0xD9, 0xD8, 0xDA }[rng.Next(7)];
                return b;
            case 2: // truncate
                return b[..rng.Next(b.Length)];
            case 3: // truncate and end as if whole (JPEG EOI)
                return [.. b[..rng.Next(b.Length)], 0xFF, 0xD9];
            case 4: // insert random bytes
            {
                var at = rng.Next(b.Length);
                var junk = new byte[rng.Next(1, 64)];
                rng.NextBytes(junk);
                return [.. b[..at], .. junk, .. b[at..]];
            }
            case 5: // duplicate a chunk
            {
                var at = rng.Next(b.Length);
                var len = Math.Min(rng.Next(1, 512), b.Length - at);
                return [.. b[..(at + len)], .. b[at..]];
            }
            case 6: // splice two inputs
            {
                var other = others[rng.Next(others.Count)];
                return [.. b[..rng.Next(b.Length)], .. other[rng.Next(other.Length)..]];
            }
            case 7: // a big 16-bit value somewhere in the header (sizes, lengths)
            {
                var at = rng.Next(Math.Min(b.Length - 1, 400));
                b[at] = 0xFF; b[at + 1] = (byte)rng.Next(256);
                return b;
            }
            case 8: // a 32-bit field set to a huge number (PNG/BMP/WebP sizes)
            {
                var at = rng.Next(Math.Min(b.Length - 4, 64));
                BitConverter.GetBytes(rng.Next(2) == 0 ? int.MaxValue : 0x7FFF0000 + rng.Next(0xFFFF)).CopyTo(b, at);
                return b;
            }
            default: // zero a range
            {
                var at = rng.Next(b.Length);
                Array.Clear(b, at, Math.Min(rng.Next(1, 256), b.Length - at));
                return b;
            }
        }
    }

    [Test]
    public void MutatedImagesDecodeOrFailCleanly()
    {
        var seeds = ImageSeeds();
        var rng = new Random(20261202);
        using var decoder = new ImageDecoder(new ImageDecoderOptions { MaxPixels = 40_000_000 });
        using var pixels = new PixelBuffer();
        var outcomes = new Dictionary<string, int>();
        var watch = Stopwatch.StartNew();
        var tried = 0;
        for (; tried < 20_000 && watch.Elapsed < TimeSpan.FromSeconds(15); tried++)
        {
            var input = Mutate(seeds[rng.Next(seeds.Count)], rng, seeds);
            string outcome;
            try
            {
                var info = decoder.Decode(input, pixels, rng.Next(2) == 0 ? default : new ScaleHint(64, 64, Onnx.Metadata.ResizeMode.Squash));
                Assert.That((long)info.DecodedWidth * info.DecodedHeight, Is.LessThanOrEqualTo(40_000_000));
                outcome = "decoded";
            }
            catch (ImageDecodeException e)
            {
                outcome = e.Kind.ToString();
                Assert.That(e.Message, Is.Not.Empty);
            }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        TestContext.Out.WriteLine($"images: {tried} mutated inputs in {watch.Elapsed.TotalSeconds:0.0} s: {string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key} {o.Value}"))}; 0 crashes");
        Assert.That(tried, Is.GreaterThan(500));
        Assert.That(outcomes.Keys, Has.Member("decoded").And.Member("Truncated").And.Member("Corrupt"));
    }

    private static IEnumerable<TensorShapeProto.Types.Dimension> Dims(ModelProto m) =>
        m.Graph.Input.Concat(m.Graph.Output).Concat(m.Graph.ValueInfo).SelectMany(v => v.Type?.TensorType?.Shape?.Dim ?? []);

    /// <summary>Mutations of a model's structure: what a broken exporter or an attacker would write.</summary>
    internal static ModelProto MutateModel(ModelProto seed, Random rng)
    {
        var m = seed.Clone();
        var g = m.Graph;
        long Wild() => new long[] { 0, -1, 1, 3, 7, 65_535, 100_001, 50_000_000, int.MaxValue, long.MaxValue, rng.Next(1, 5000) }[rng.Next(11)];
        switch (rng.Next(9))
        {
            case 0: // a dimension of an input, output or value
            {
                var dims = Dims(m).ToList();
                if (dims.Count > 0) dims[rng.Next(dims.Count)].DimValue = Wild();
                break;
            }
            case 1: // an initializer's shape no longer matches its data
            {
                if (g.Initializer.Count == 0) break;
                var t = g.Initializer[rng.Next(g.Initializer.Count)];
                if (t.Dims.Count > 0) t.Dims[rng.Next(t.Dims.Count)] = Wild();
                break;
            }
            case 2: // metadata values
            {
                var keys = new[] { "edge.labels", "edge.preprocess.input_size", "edge.preprocess.mean", "edge.preprocess.std", "edge.preprocess.scale", "edge.output", "edge.preprocess.color" };
                var values = new[] { "[]", "[\"a\"]", "99999x99999", "0x0", "nan", "-1", "1e39", "logits", "gray", "[" + string.Join(",", Enumerable.Repeat("\"x\"", 200_000)) + "]", "\u0000", "1/0" };
                m.MetadataProps.Add(new StringStringEntryProto { Key = keys[rng.Next(keys.Length)], Value = values[rng.Next(values.Length)] });
                break;
            }
            case 3: // an operator changed
            {
                if (g.Node.Count == 0) break;
                g.Node[rng.Next(g.Node.Count)].OpType = new[] { "Relu", "Softmax", "Reshape", "NoSuchOp", "Loop", "Identity", "Concat" }[rng.Next(7)];
                break;
            }
            case 4: // an input rewired
            {
                if (g.Node.Count < 2) break;
                var n = g.Node[rng.Next(g.Node.Count)];
                if (n.Input.Count > 0) n.Input[rng.Next(n.Input.Count)] = g.Node[rng.Next(g.Node.Count)].Output.FirstOrDefault() ?? "missing";
                break;
            }
            case 5: // an attribute's value
            {
                var attrs = g.Node.SelectMany(n => n.Attribute).ToList();
                if (attrs.Count == 0) break;
                var a = attrs[rng.Next(attrs.Count)];
                a.I = Wild();
                if (a.Ints.Count > 0) a.Ints[rng.Next(a.Ints.Count)] = Wild();
                break;
            }
            case 6: // element types
            {
                var types = g.Input.Concat(g.Output).Select(v => v.Type?.TensorType).Where(t => t is not null).ToList();
                if (types.Count > 0) types[rng.Next(types.Count)]!.ElemType = rng.Next(0, 20);
                break;
            }
            case 7: // external data or a cycle, which must never reach ONNX Runtime
                if (rng.Next(2) == 0 && g.Initializer.Count > 0)
                {
                    var t = g.Initializer[rng.Next(g.Initializer.Count)];
                    t.DataLocation = TensorProto.Types.DataLocation.External;
                    t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "../../etc/passwd" });
                }
                else if (g.Node.Count > 1)
                {
                    g.Node[0].Input.Add(g.Node[^1].Output[0]);
                }
                break;
            default: // opset and IR version
                m.IrVersion = new long[] { 0, 1, 3, 8, 11, 99 }[rng.Next(6)];
                if (m.OpsetImport.Count > 0) m.OpsetImport[0].Version = new long[] { 1, 7, 13, 17, 21, 99 }[rng.Next(6)];
                break;
        }
        return m;
    }

    [Category(Needs.FashionMnist)]
    [Test]
    public void MutatedModelsLoadOrAreRefusedCleanly()
    {
        var seedPaths = new[]
        {
            Path.Combine(RepoPaths.Models, "colors.onnx"),
            Path.Combine(RepoPaths.Root, "tests", "fixtures", "fmnist_convnet.onnx"),
            Path.Combine(RepoPaths.Models, "fashion-mnist-resnet20-pruned.int8.onnx"),
        };
        var seeds = seedPaths.Select(p => (Bytes: File.ReadAllBytes(p), Proto: OnnxModelFile.Load(p))).ToList();
        var image = File.ReadAllBytes(Path.Combine(Samples, "tomatoes.jpg"));
        var rng = new Random(4242);
        using var dir = new TempDir();
        var path = dir.File("fuzz.onnx");
        var outcomes = new Dictionary<string, int>();
        var watch = Stopwatch.StartNew();
        var tried = 0;
        for (; tried < 2000 && watch.Elapsed < TimeSpan.FromSeconds(25); tried++)
        {
            var seed = seeds[rng.Next(seeds.Count)];
            var bytes = rng.Next(3) == 0
                ? Mutate(seed.Bytes, rng, [.. seeds.Select(s => s.Bytes)])
                : MutateModel(rng.Next(4) == 0 ? MutateModel(seed.Proto, rng) : seed.Proto, rng).ToByteArray();
            File.WriteAllBytes(path, bytes);
            string outcome;
            try
            {
                using var c = Classifier.Load(path, new ClassifierOptions { IntraOpThreads = 1, MaxBatch = 2 });
                try
                {
                    c.Classify(image);
                    outcome = "ran";
                }
                catch (InferenceException)
                {
                    outcome = "loaded, inference error";
                }
            }
            catch (ModelLoadException e)
            {
                Assert.That(e.Message, Does.Not.Contain("\n"), "one line");
                outcome = "refused";
            }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        TestContext.Out.WriteLine($"models: {tried} mutated models in {watch.Elapsed.TotalSeconds:0.0} s: {string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key} {o.Value}"))}; 0 crashes");
        Assert.That(tried, Is.GreaterThan(100));
        Assert.That(outcomes.Keys, Has.Member("ran").And.Member("refused"));
    }
}
