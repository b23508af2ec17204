using Edge.Core.Imaging;
using Edge.Onnx.Metadata;

namespace Edge.Daemon.Regions;

/// <summary>
/// Where a region lies in a frame: fractions of the frame (so it holds whatever resolution the camera or the decoder's
/// DCT scaling gives), turned into whole pixels per frame size.
/// </summary>
public readonly record struct Region(string Name, double X, double Y, double Width, double Height)
{
    /// <summary>The name of the whole frame when no regions are configured.</summary>
    public const string WholeFrameName = "frame";

    public static Region WholeFrame => new(WholeFrameName, 0, 0, 1, 1);

    public bool IsWholeFrame => X == 0 && Y == 0 && Width == 1 && Height == 1;

    /// <summary>
    /// The region's pixels in a <paramref name="width"/> × <paramref name="height"/> frame: edges rounded to the nearest
    /// pixel (as PIL's crop of the rounded box), at least one pixel, inside the frame.
    /// </summary>
    public (int X, int Y, int Width, int Height) Pixels(int width, int height)
    {
        var left = Math.Clamp((int)Math.Round(X * width, MidpointRounding.AwayFromZero), 0, width - 1);
        var top = Math.Clamp((int)Math.Round(Y * height, MidpointRounding.AwayFromZero), 0, height - 1);
        var right = Math.Clamp((int)Math.Round((X + Width) * width, MidpointRounding.AwayFromZero), left + 1, width);
        var bottom = Math.Clamp((int)Math.Round((Y + Height) * height, MidpointRounding.AwayFromZero), top + 1, height);
        return (left, top, right - left, bottom - top);
    }

    /// <summary>The region's pixels of <paramref name="frame"/>, without copying.</summary>
    public ImageView Crop(ImageView frame)
    {
        if (IsWholeFrame) return frame;
        var (x, y, w, h) = Pixels(frame.Width, frame.Height);
        return frame.Crop(x, y, w, h);
    }

    /// <summary>
    /// What the decoder must keep of a frame for every region to reach the model's input size: the model's own hint
    /// scaled up by the smallest region's fraction (a quarter-width region needs four times the width). Stated as a
    /// stretch to a larger target, which never asks for less than the region's own resize needs.
    /// </summary>
    public static ScaleHint DecodeHint(IReadOnlyList<Region> regions, PreprocessingSpec spec)
    {
        if (regions.Count == 0 || regions.All(r => r.IsWholeFrame)) return ScaleHint.For(spec);
        double needW = 0, needH = 0;
        foreach (var r in regions)
        {
            var crop = spec.Resize == ResizeMode.CenterCrop ? Math.Max(spec.CropFraction, 1e-3) : 1;
            needW = Math.Max(needW, spec.Width / (r.Width * crop));
            needH = Math.Max(needH, spec.Height / (r.Height * crop));
        }
        return new ScaleHint((int)Math.Min(int.MaxValue / 2, Math.Ceiling(needW)), (int)Math.Min(int.MaxValue / 2, Math.Ceiling(needH)), ResizeMode.Squash);
    }

    public static Region From(RegionOptions o) => new(o.Name, o.X, o.Y, o.Width, o.Height);

    /// <summary>Parses <c>x,y,w,h</c> (fractions of the image) as given to <c>edged classify --region</c>.</summary>
    public static Region Parse(string text, string name = "region")
    {
        var parts = text.Split(',');
        var v = new double[4];
        if (parts.Length != 4 || !parts.Select((p, i) => double.TryParse(p.Trim(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out v[i])).All(ok => ok))
            throw new FormatException($"'{text}' is not x,y,width,height (fractions of the image, e.g. 0.1,0.2,0.3,0.3)");
        var r = new Region(name, v[0], v[1], v[2], v[3]);
        return r.Problem() is { } p ? throw new FormatException($"'{text}': {p}") : r;
    }

    /// <summary>What is wrong with the rectangle, or null: fractions within the frame, not empty.</summary>
    public string? Problem()
    {
        if (!(double.IsFinite(X) && double.IsFinite(Y) && double.IsFinite(Width) && double.IsFinite(Height))) return "coordinates must be numbers";
        if (X < 0 || Y < 0) return "X and Y must be at least 0";
        if (Width <= 0 || Height <= 0) return "Width and Height must be more than 0";
        if (X + Width > 1 + 1e-9 || Y + Height > 1 + 1e-9) return $"the rectangle leaves the frame (X + Width = {X + Width:0.###}, Y + Height = {Y + Height:0.###}; fractions of the frame, at most 1)";
        return null;
    }
}
