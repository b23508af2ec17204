using SkiaSharp;

namespace Edge.TestSupport;

/// <summary>The shipped sample frames (models/samples): scenes with one dominant colour, drawn deterministically.</summary>
public static class SampleFrames
{
    public static IReadOnlyList<(string Name, string ExpectedLabel, byte[] Jpeg)> Make()
    {
        return
        [
            ("tomatoes.jpg", "red", Scene(320, 240, 1, new SKColor(200, 30, 25), new SKColor(150, 20, 20), new SKColor(60, 120, 40))),
            ("meadow.jpg", "green", Scene(320, 240, 2, new SKColor(50, 160, 60), new SKColor(30, 120, 40), new SKColor(220, 220, 90))),
            ("sky.jpg", "blue", Scene(320, 240, 3, new SKColor(40, 70, 210), new SKColor(90, 130, 230), new SKColor(240, 240, 250))),
            ("night.jpg", "black", Scene(320, 240, 4, new SKColor(10, 10, 20), new SKColor(5, 5, 5), new SKColor(250, 240, 180))),
            ("snow.jpg", "white", Scene(320, 240, 5, new SKColor(240, 242, 248), new SKColor(225, 230, 240), new SKColor(90, 80, 70))),
            ("crate.jpg", "brown", Scene(320, 240, 6, new SKColor(120, 75, 35), new SKColor(95, 58, 28), new SKColor(200, 170, 120))),
        ];
    }

    /// <summary>A background gradient between two shades of the main colour, a few accent shapes, and sensor-like noise.</summary>
    private static byte[] Scene(int width, int height, int seed, SKColor main, SKColor shade, SKColor accent)
    {
        var rng = new Random(seed);
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        using (var canvas = new SKCanvas(bitmap))
        {
            using var gradient = new SKPaint();
            gradient.Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(width, height), [main, shade], SKShaderTileMode.Clamp);
            canvas.DrawRect(0, 0, width, height, gradient);
            using var paint = new SKPaint { Color = accent, IsAntialias = true };
            for (var i = 0; i < 3; i++)
                canvas.DrawCircle(rng.Next(width), rng.Next(height), rng.Next(8, 22), paint);
        }
        var pixels = bitmap.GetPixelSpan();
        for (var i = 0; i < pixels.Length; i += 4)
        {
            var n = rng.Next(-10, 11);
            for (var c = 0; c < 3; c++) pixels[i + c] = (byte)Math.Clamp(pixels[i + c] + n, 0, 255);
            pixels[i + 3] = 255;
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, 88);
        return data.ToArray();
    }
}
