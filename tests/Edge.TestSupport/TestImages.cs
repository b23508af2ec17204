using SkiaSharp;

namespace Edge.TestSupport;

/// <summary>Makes encoded test images from known pixels (SkiaSharp's managed encoder: test-only).</summary>
public static class TestImages
{
    /// <summary>Deterministic RGBA pixels with gradients and texture.</summary>
    public static byte[] Pattern(int width, int height, int seed = 1)
    {
        var rng = new Random(seed);
        var p = new byte[width * height * 4];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var i = (y * width + x) * 4;
                p[i] = (byte)(255 * x / Math.Max(1, width - 1));
                p[i + 1] = (byte)(255 * y / Math.Max(1, height - 1));
                p[i + 2] = (byte)rng.Next(256);
                p[i + 3] = 255;
            }
        return p;
    }

    public static byte[] Solid(int width, int height, byte r, byte g, byte b)
    {
        var p = new byte[width * height * 4];
        for (var i = 0; i < p.Length; i += 4) { p[i] = r; p[i + 1] = g; p[i + 2] = b; p[i + 3] = 255; }
        return p;
    }

    public static byte[] Encode(byte[] rgba, int width, int height, SKEncodedImageFormat format, int quality = 95)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        rgba.CopyTo(bitmap.GetPixelSpan());
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }

    public static byte[] SolidJpeg(int width, int height, byte r, byte g, byte b) => Jpeg(Solid(width, height, r, g, b), width, height);

    public static byte[] Png(byte[] rgba, int width, int height) => Encode(rgba, width, height, SKEncodedImageFormat.Png);

    public static byte[] Jpeg(byte[] rgba, int width, int height, int quality = 95) => Encode(rgba, width, height, SKEncodedImageFormat.Jpeg, quality);

    /// <summary>Decodes with SkiaSharp's managed API (the reference for our direct native decoder).</summary>
    public static (byte[] Rgba, int Width, int Height) ManagedDecode(byte[] encoded)
    {
        using var codec = SKCodec.Create(new MemoryStream(encoded));
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success) throw new InvalidOperationException(result.ToString());
        return (bitmap.GetPixelSpan().ToArray(), info.Width, info.Height);
    }
}
