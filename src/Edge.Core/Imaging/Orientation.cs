namespace Edge.Core.Imaging;

/// <summary>Turns a stored image upright according to its EXIF orientation (1..8).</summary>
internal static unsafe class Orientation
{
    public static void Apply(ImageView src, int origin, PixelBuffer dst)
    {
        var transposed = origin >= 5;
        var (w, h) = transposed ? (src.Height, src.Width) : (src.Width, src.Height);
        dst.Reset(w, h);
        var output = dst.Span;
        var s = src.Width;
        for (var y = 0; y < h; y++)
        {
            var row = output.Slice(y * w * 4, w * 4);
            for (var x = 0; x < w; x++)
            {
                // (sx, sy): where display pixel (x, y) is stored. EXIF: 2 mirror, 3 rotate 180, 4 flip,
                // 5 transpose, 6 rotate 90 CW to display, 7 transverse, 8 rotate 270 CW.
                var (sx, sy) = origin switch
                {
                    2 => (s - 1 - x, y),
                    3 => (s - 1 - x, src.Height - 1 - y),
                    4 => (x, src.Height - 1 - y),
                    5 => (y, x),
                    6 => (y, src.Height - 1 - x),
                    7 => (s - 1 - y, src.Height - 1 - x),
                    8 => (s - 1 - y, x),
                    _ => (x, y),
                };
                var from = src.Row(sy).Slice(sx * 4, 4);
                from.CopyTo(row.Slice(x * 4, 4));
            }
        }
    }
}
