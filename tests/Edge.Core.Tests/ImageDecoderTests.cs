using System.Buffers.Binary;
using Edge.Core.Imaging;
using Edge.Onnx.Metadata;
using SkiaSharp;

namespace Edge.Core.Tests;

public class ImageDecoderTests
{
    private static DecodeInfo Decode(byte[] bytes, PixelBuffer into, ScaleHint hint = default, ImageDecoderOptions? options = null)
    {
        using var decoder = new ImageDecoder(options);
        return decoder.Decode(bytes, into, hint);
    }

    [TestCase(SKEncodedImageFormat.Png, "PNG")]
    [TestCase(SKEncodedImageFormat.Jpeg, "JPEG")]
    [TestCase(SKEncodedImageFormat.Webp, "WebP")]
    public void DirectNativeDecodeEqualsSkiaSharpsManagedDecode(SKEncodedImageFormat format, string name)
    {
        var encoded = TestImages.Encode(TestImages.Pattern(83, 57), 83, 57, format, 90);
        var (reference, w, h) = TestImages.ManagedDecode(encoded);
        using var buffer = new PixelBuffer();
        var info = Decode(encoded, buffer);
        Assert.That(info.Format, Is.EqualTo(name));
        Assert.That((info.SourceWidth, info.SourceHeight, buffer.Width, buffer.Height), Is.EqualTo((w, h, w, h)));
        Assert.That(buffer.Span.ToArray(), Is.EqualTo(reference));
    }

    [Test]
    public void PngPixelsComeBackExactly()
    {
        var rgba = TestImages.Pattern(31, 17, seed: 9);
        using var buffer = new PixelBuffer();
        Decode(TestImages.Png(rgba, 31, 17), buffer);
        Assert.That(buffer.Span.ToArray(), Is.EqualTo(rgba));
    }

    [Test]
    public void ABufferIsReusedForFramesOfTheSameSize()
    {
        using var decoder = new ImageDecoder();
        using var buffer = new PixelBuffer();
        var a = TestImages.Png(TestImages.Solid(40, 30, 10, 20, 30), 40, 30);
        var b = TestImages.Png(TestImages.Solid(40, 30, 200, 100, 50), 40, 30);
        decoder.Decode(a, buffer);
        var capacity = buffer.Capacity;
        decoder.Decode(b, buffer);
        Assert.That(buffer.Capacity, Is.EqualTo(capacity));
        Assert.That(buffer.Span[..4].ToArray(), Is.EqualTo(new byte[] { 200, 100, 50, 255 }));
    }

    [Test]
    public void EmptyInput()
    {
        using var buffer = new PixelBuffer();
        Assert.That(() => Decode([], buffer), Throws.TypeOf<ImageDecodeException>()
            .With.Property(nameof(ImageDecodeException.Kind)).EqualTo(ImageErrorKind.Empty).And.Message.Contains("empty"));
    }

    [Test]
    public void TruncatedJpegBody()
    {
        var jpeg = TestImages.Jpeg(TestImages.Pattern(64, 64), 64, 64);
        using var buffer = new PixelBuffer();
        Assert.That(() => Decode(jpeg[..(jpeg.Length / 2)], buffer), Throws.TypeOf<ImageDecodeException>()
            .With.Property(nameof(ImageDecodeException.Kind)).EqualTo(ImageErrorKind.Truncated).And.Message.Contains("JPEG data ends early"));
    }

    [Test]
    public void TruncatedPngBody()
    {
        var png = TestImages.Png(TestImages.Pattern(64, 64), 64, 64);
        using var buffer = new PixelBuffer();
        Assert.That(() => Decode(png[..(png.Length * 2 / 3)], buffer), Throws.TypeOf<ImageDecodeException>()
            .With.Property(nameof(ImageDecodeException.Kind)).EqualTo(ImageErrorKind.Truncated));
    }

    [Test]
    public void TruncatedHeader()
    {
        var jpeg = TestImages.Jpeg(TestImages.Pattern(64, 64), 64, 64);
        using var buffer = new PixelBuffer();
        Assert.That(() => Decode(jpeg[..12], buffer), Throws.TypeOf<ImageDecodeException>()
            .With.Property(nameof(ImageDecodeException.Kind)).EqualTo(ImageErrorKind.Truncated).And.Message.Contains("JPEG header"));
    }

    [Test]
    public void TextIsNotAnImage()
    {
        using var buffer = new PixelBuffer();
        Assert.That(() => Decode("just some text\n"u8.ToArray(), buffer), Throws.TypeOf<ImageDecodeException>()
            .With.Property(nameof(ImageDecodeException.Kind)).EqualTo(ImageErrorKind.UnknownFormat)
            .And.Message.Contains("not an image Edge can read"));
    }

    [TestCase(1)]
    [TestCase(2)]
    public void RandomBytesAreNotAnImage(int seed)
    {
        var bytes = new byte[2048];
        new Random(seed).NextBytes(bytes);
        bytes[0] = 0; // make sure no signature matches by chance
        using var buffer = new PixelBuffer();
        Assert.That(() => Decode(bytes, buffer), Throws.TypeOf<ImageDecodeException>()
            .With.Property(nameof(ImageDecodeException.Kind)).EqualTo(ImageErrorKind.UnknownFormat));
    }

    [Test]
    public void DecompressionBombIsRefusedBeforeAnyPixelMemory()
    {
        // A valid PNG header claiming 30000 x 30000 pixels (3.6 GB as RGBA) followed by nothing useful.
        var png = PngHeaderOnly(30000, 30000);
        using var buffer = new PixelBuffer();
        Assert.That(() => Decode(png, buffer), Throws.TypeOf<ImageDecodeException>()
            .With.Property(nameof(ImageDecodeException.Kind)).EqualTo(ImageErrorKind.TooLarge)
            .And.Message.Contains("30000x30000 (900 megapixels), over the limit of 40 megapixels"));
        Assert.That(buffer.Capacity, Is.EqualTo((nuint)0), "nothing may be allocated for a refused image");
    }

    [Test]
    public void PixelBudgetIsConfigurable()
    {
        var png = TestImages.Png(TestImages.Pattern(100, 100), 100, 100);
        using var buffer = new PixelBuffer();
        Assert.That(() => Decode(png, buffer, options: new ImageDecoderOptions { MaxPixels = 9_999 }),
            Throws.TypeOf<ImageDecodeException>().With.Property(nameof(ImageDecodeException.Kind)).EqualTo(ImageErrorKind.TooLarge));
        Assert.That(Decode(png, buffer, options: new ImageDecoderOptions { MaxPixels = 10_000 }).SourceWidth, Is.EqualTo(100));
    }

    [TestCase(640, 480, 224, 224, 320, 240)] // needs 0.47 of the detail: 1/2
    [TestCase(1280, 960, 224, 224, 320, 240)] // 0.23: 1/4
    [TestCase(4000, 3000, 224, 224, 500, 375)] // 0.07: 1/8 is the smallest
    [TestCase(300, 200, 224, 224, 300, 200)] // 0.75 + : full decode
    public void JpegIsShrunkInTheDctDomainWhenTheModelIsMuchSmaller(int w, int h, int tw, int th, int ew, int eh)
    {
        var jpeg = TestImages.Jpeg(TestImages.Pattern(w, h), w, h, 80);
        using var buffer = new PixelBuffer();
        var info = Decode(jpeg, buffer, new ScaleHint(tw, th, ResizeMode.Squash));
        Assert.That((info.SourceWidth, info.SourceHeight), Is.EqualTo((w, h)));
        Assert.That((buffer.Width, buffer.Height), Is.EqualTo((ew, eh)));
    }

    [Test]
    public void ShrunkDecodeGivesNearlyTheSameTensorAsAFullDecode()
    {
        var rgba = TestImages.Pattern(640, 480, seed: 3);
        // Smooth content (the pattern's blue channel is noise; average it away with a blur first).
        var jpeg = Blurred(rgba, 640, 480);
        var spec = PreprocessingSpec.Resolve(ModelSettings.Empty, 3, 224, 224);
        var pre = new Preprocessor(spec);
        var full = new float[pre.TensorLength];
        var scaled = new float[pre.TensorLength];
        using var buffer = new PixelBuffer();
        Decode(jpeg, buffer, ScaleHint.For(spec), new ImageDecoderOptions { ScaledJpegDecode = false });
        pre.Run(buffer.View, full);
        Decode(jpeg, buffer, ScaleHint.For(spec));
        Assert.That(buffer.Width, Is.EqualTo(320));
        pre.Run(buffer.View, scaled);
        var meanAbs = full.Zip(scaled, (a, b) => Math.Abs(a - b)).Average();
        Assert.That(meanAbs, Is.LessThan(0.02), "mean difference in normalised units (1/255 of a pixel is 0.017)");
    }

    [Test]
    public void DctScaleIsAPowerOfTwoThatKeepsEnoughDetail()
    {
        Assert.That(ImageDecoder.DctScale(1f), Is.EqualTo(1f));
        Assert.That(ImageDecoder.DctScale(0.51f), Is.EqualTo(1f));
        Assert.That(ImageDecoder.DctScale(0.5f), Is.EqualTo(0.5f));
        Assert.That(ImageDecoder.DctScale(0.2f), Is.EqualTo(0.25f));
        Assert.That(ImageDecoder.DctScale(0.01f), Is.EqualTo(0.125f));
    }

    private static byte[] Blurred(byte[] rgba, int w, int h)
    {
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var src = new SKBitmap(info);
        rgba.CopyTo(src.GetPixelSpan());
        using var surface = SKSurface.Create(info);
        using var paint = new SKPaint { ImageFilter = SKImageFilter.CreateBlur(3, 3) };
        using var image = SKImage.FromBitmap(src);
        surface.Canvas.DrawImage(image, 0, 0, new SKSamplingOptions(SKFilterMode.Linear), paint);
        using var snapshot = surface.Snapshot();
        using var data = snapshot.Encode(SKEncodedImageFormat.Jpeg, 92);
        return data.ToArray();
    }

    internal static byte[] PngHeaderOnly(int width, int height)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // truecolour
        Chunk(ms, "IHDR", ihdr);
        Chunk(ms, "IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        s.Write(typeBytes);
        s.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(len, Crc32([.. typeBytes, .. data]));
        s.Write(len);
    }

    /// <summary>PNG's CRC-32 (ISO 3309, reflected polynomial 0xEDB88320).</summary>
    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}
