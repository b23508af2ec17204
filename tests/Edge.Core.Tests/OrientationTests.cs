using Edge.Core.Imaging;

namespace Edge.Core.Tests;

/// <summary>EXIF orientation against PIL's <c>ImageOps.exif_transpose</c> on JPEGs that PIL wrote with each tag.</summary>
public class OrientationTests
{
    [Category(Needs.Python)]
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    [TestCase(5)]
    [TestCase(6)]
    [TestCase(7)]
    [TestCase(8)]
    public void UprightAsPilMakesIt(int orientation)
    {
        using var dir = new TempDir();
        var jpeg = dir.File("o.jpg");
        var reference = dir.File("o.rgb");
        var size = Python.Run("""
            import sys
            from PIL import Image, ImageOps
            # Four flat quadrants of different colours (flat so JPEG keeps them exact enough) on a 48x32 image.
            img = Image.new("RGB", (48, 32))
            px = img.load()
            for y in range(32):
                for x in range(48):
                    px[x, y] = [(220, 30, 30), (30, 200, 40), (30, 40, 210), (240, 230, 40)][(x >= 24) + 2 * (y >= 16)]
            exif = Image.Exif()
            exif[0x0112] = int(sys.argv[3])
            img.save(sys.argv[1], quality=95, exif=exif.tobytes())
            up = ImageOps.exif_transpose(Image.open(sys.argv[1])).convert("RGB")
            open(sys.argv[2], "wb").write(up.tobytes())
            print(up.size[0], up.size[1])
            """, jpeg, reference, orientation.ToString()).Trim().Split(' ').Select(int.Parse).ToArray();

        using var decoder = new ImageDecoder(new ImageDecoderOptions { ScaledJpegDecode = false });
        using var buffer = new PixelBuffer();
        var info = decoder.Decode(File.ReadAllBytes(jpeg), buffer);
        Assert.That(info.Orientation, Is.EqualTo(orientation));
        Assert.That((buffer.Width, buffer.Height), Is.EqualTo((size[0], size[1])));
        var expected = File.ReadAllBytes(reference);
        var ours = buffer.Span;
        var worst = 0;
        for (int i = 0, j = 0; j < expected.Length; i += 4, j += 3)
            for (var c = 0; c < 3; c++)
                worst = Math.Max(worst, Math.Abs(ours[i + c] - expected[j + c]));
        // Same libjpeg family on both sides; a wrong rotation would differ by ~200 in whole quadrants.
        Assert.That(worst, Is.LessThanOrEqualTo(8), $"largest channel difference {worst}");
    }
}
