using Edge.Core.Imaging;

namespace Edge.Daemon.Triggers;

/// <summary>Where and how strongly to look for motion (bound from Trigger:Motion). Fractions of the frame for the region of interest.</summary>
public sealed record MotionSettings
{
    public double RoiX { get; set; }
    public double RoiY { get; set; }
    public double RoiWidth { get; set; } = 1;
    public double RoiHeight { get; set; } = 1;
    /// <summary>A pixel has changed when |now - before| > DifferenceM × before + DifferenceC (on 0..255 gray).</summary>
    public double DifferenceM { get; set; } = 0.1;
    public double DifferenceC { get; set; } = 10;
    /// <summary>Motion when at least this fraction of the region's pixels changed.</summary>
    public double RegionThreshold { get; set; } = 0.005;
    /// <summary>After motion, classify at most once per this long.</summary>
    public int CooldownMs { get; set; } = 1000;
    /// <summary>Width and height of the gray copy that is compared (the frame is shrunk to this).</summary>
    public int Width { get; set; } = 64;
    public int Height { get; set; } = 48;
}

/// <summary>
/// Frame differencing on a small gray copy of each frame, like rpicam-apps' motion_detect stage:
/// the JPEG is decoded at 1/8 scale in the DCT domain, shrunk to a fixed grid, and compared with the
/// previous frame inside the region of interest. Allocates nothing per frame once running.
/// </summary>
public sealed class MotionDetector : IDisposable
{
    private readonly MotionSettings _s;
    private readonly ImageDecoder _decoder = new(new ImageDecoderOptions { ScanCheck = JpegScanChecking.WhenGreyFilled });
    private readonly PixelBuffer _pixels = new();
    private readonly byte[] _previous;
    private readonly byte[] _current;
    private bool _hasPrevious;

    public MotionDetector(MotionSettings settings)
    {
        _s = settings;
        _previous = new byte[settings.Width * settings.Height];
        _current = new byte[settings.Width * settings.Height];
    }

    /// <summary>Fraction of the region that changed in the last frame.</summary>
    public double LastChangedFraction { get; private set; }

    /// <summary>Compares the frame with the previous one; the first frame is never motion.</summary>
    /// <exception cref="ImageDecodeException">The frame does not decode.</exception>
    public bool Update(ReadOnlySpan<byte> jpeg)
    {
        _decoder.Decode(jpeg, _pixels, new ScaleHint(_s.Width, _s.Height, Edge.Onnx.Metadata.ResizeMode.Squash));
        return Update(_pixels.View);
    }

    /// <summary>Compares a decoded frame with the previous one.</summary>
    public bool Update(ImageView image)
    {
        Shrink(image, _current);
        int w = _s.Width, h = _s.Height;
        var x0 = (int)Math.Clamp(_s.RoiX * w, 0, w - 1);
        var y0 = (int)Math.Clamp(_s.RoiY * h, 0, h - 1);
        var x1 = (int)Math.Clamp((_s.RoiX + _s.RoiWidth) * w, x0 + 1, w);
        var y1 = (int)Math.Clamp((_s.RoiY + _s.RoiHeight) * h, y0 + 1, h);
        var changed = 0;
        if (_hasPrevious)
            for (var y = y0; y < y1; y++)
                for (var x = x0; x < x1; x++)
                {
                    var before = _previous[y * w + x];
                    if (Math.Abs(_current[y * w + x] - before) > _s.DifferenceM * before + _s.DifferenceC) changed++;
                }
        LastChangedFraction = (double)changed / ((x1 - x0) * (y1 - y0));
        var motion = _hasPrevious && LastChangedFraction >= _s.RegionThreshold;
        _current.CopyTo(_previous, 0);
        _hasPrevious = true;
        return motion;
    }

    /// <summary>Box-averages the image's luma onto the comparison grid.</summary>
    private void Shrink(ImageView image, byte[] grid)
    {
        int w = _s.Width, h = _s.Height;
        for (var gy = 0; gy < h; gy++)
        {
            var sy0 = gy * image.Height / h;
            var sy1 = Math.Max(sy0 + 1, (gy + 1) * image.Height / h);
            for (var gx = 0; gx < w; gx++)
            {
                var sx0 = gx * image.Width / w;
                var sx1 = Math.Max(sx0 + 1, (gx + 1) * image.Width / w);
                var sum = 0;
                for (var y = sy0; y < sy1; y++)
                {
                    var row = image.Row(y);
                    for (var x = sx0; x < sx1; x++)
                        sum += (77 * row[4 * x] + 150 * row[4 * x + 1] + 29 * row[4 * x + 2]) >> 8;
                }
                grid[gy * w + gx] = (byte)(sum / ((sy1 - sy0) * (sx1 - sx0)));
            }
        }
    }

    public void Dispose()
    {
        _decoder.Dispose();
        _pixels.Dispose();
    }
}
