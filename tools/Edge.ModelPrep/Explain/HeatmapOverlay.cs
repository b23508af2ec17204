using Edge.Onnx.Metadata;
using SkiaSharp;

namespace Edge.ModelPrep.Explain;

/// <summary>Draws a Grad-CAM heatmap over the image the network saw (its preprocessed input, un-normalised).</summary>
public static class HeatmapOverlay
{
    /// <summary>Colour of a heat value 0..1: blue (none) through cyan, yellow to red (most), the usual "jet" ramp.</summary>
    public static (byte R, byte G, byte B) Color(float t)
    {
        static byte Channel(float x) => (byte)(Math.Clamp(x, 0f, 1f) * 255 + 0.5f);
        t = Math.Clamp(t, 0f, 1f);
        return (Channel(1.5f - Math.Abs(4 * t - 3)), Channel(1.5f - Math.Abs(4 * t - 2)), Channel(1.5f - Math.Abs(4 * t - 1)));
    }

    /// <summary>The input's pixels back from the tensor: value × std + mean, divided by the scale; channels in RGB order.</summary>
    public static byte[] Pixels(ReadOnlySpan<float> chw, PreprocessingSpec spec)
    {
        var (w, h, c) = (spec.Width, spec.Height, spec.Channels);
        var rgb = new byte[w * h * 3];
        for (var i = 0; i < w * h; i++)
            for (var k = 0; k < 3; k++)
            {
                // Gray repeats its one channel; BGR reads its channels the other way round.
                var ch = c == 1 ? 0 : spec.Color == ColorOrder.Bgr ? 2 - k : k;
                var v = (chw[ch * w * h + i] * spec.Std[ch] + spec.Mean[ch]) / spec.Scale;
                rgb[i * 3 + k] = (byte)Math.Clamp(MathF.Round(v), 0, 255);
            }
        return rgb;
    }

    /// <summary>A PNG of the image with the heat blended over it, enlarged so that its short side is at least <paramref name="minSide"/> pixels.</summary>
    public static byte[] Png(byte[] rgb, float[] heat, int width, int height, float opacity = 0.45f, int minSide = 224)
    {
        using var small = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var pixels = small.GetPixelSpan();
        for (var i = 0; i < width * height; i++)
        {
            var (r, g, b) = Color(heat[i]);
            var a = opacity * Math.Clamp(heat[i] * 2, 0f, 1f); // cold regions stay the image itself
            pixels[4 * i] = (byte)(rgb[3 * i] * (1 - a) + r * a);
            pixels[4 * i + 1] = (byte)(rgb[3 * i + 1] * (1 - a) + g * a);
            pixels[4 * i + 2] = (byte)(rgb[3 * i + 2] * (1 - a) + b * a);
            pixels[4 * i + 3] = 255;
        }
        var factor = Math.Max(1, (int)Math.Ceiling((double)minSide / Math.Min(width, height)));
        using var large = small.Resize(new SKImageInfo(width * factor, height * factor, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKFilterMode.Linear));
        using var image = SKImage.FromBitmap(large);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
