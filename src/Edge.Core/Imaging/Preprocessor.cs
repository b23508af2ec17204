using System.Numerics;
using System.Runtime.InteropServices;
using Edge.Onnx.Metadata;

namespace Edge.Core.Imaging;

/// <summary>Order of a model's image tensor.</summary>
public enum TensorLayout { Nchw, Nhwc }

/// <summary>
/// Resizes (bilinear, half-pixel centres, edges clamped: the convention of PyTorch's
/// <c>interpolate(align_corners=False)</c> and OpenCV's INTER_LINEAR) and normalises an RGBA image
/// straight into a model's float tensor, in one pass, with no intermediate image. Tables for
/// a source size are kept, so a stream of same-sized frames allocates nothing.
/// Not thread-safe: one per pipeline.
/// </summary>
public sealed class Preprocessor
{
    private readonly PreprocessingSpec _spec;
    private readonly float[] _a; // value * a + b == (value * scale - mean) / std
    private readonly float[] _b;
    private readonly int[] _sourceChannel;
    // Plans by source size, most recent first: regions of several sizes cropped from each frame reuse theirs
    // instead of rebuilding one per crop (which would allocate per frame).
    private readonly Plan?[] _plans = new Plan?[MaxPlans];

    /// <summary>Source sizes whose resize tables are kept (a camera's regions, each of one size).</summary>
    public const int MaxPlans = 16;

    public Preprocessor(PreprocessingSpec spec, TensorLayout layout = TensorLayout.Nchw)
    {
        _spec = spec;
        Layout = layout;
        var c = spec.Channels;
        _a = new float[c];
        _b = new float[c];
        for (var i = 0; i < c; i++)
        {
            _a[i] = spec.Scale / spec.Std[i];
            _b[i] = -spec.Mean[i] / spec.Std[i];
        }
        _sourceChannel = spec.Color == ColorOrder.Bgr ? [2, 1, 0] : [0, 1, 2];
    }

    public PreprocessingSpec Spec => _spec;
    public TensorLayout Layout { get; }

    /// <summary>Floats one image takes in the tensor (channels × height × width).</summary>
    public int TensorLength => _spec.Channels * _spec.Width * _spec.Height;

    /// <summary>Where the image lands: the source region that is used and the destination region it fills.</summary>
    public readonly record struct Geometry(int SrcX, int SrcY, int SrcWidth, int SrcHeight, int DstX, int DstY, int DstWidth, int DstHeight);

    /// <summary>Geometry for a <paramref name="width"/> × <paramref name="height"/> source.</summary>
    public Geometry ComputeGeometry(int width, int height) => ComputeGeometry(width, height, _spec.Width, _spec.Height, _spec.Resize, _spec.CropFraction);

    public static Geometry ComputeGeometry(int width, int height, int tw, int th, ResizeMode mode, float cropFraction)
    {
        switch (mode)
        {
            case ResizeMode.CenterCrop:
            {
                double cw, ch;
                if ((double)width / height > (double)tw / th) { ch = height; cw = height * (double)tw / th; }
                else { cw = width; ch = width * (double)th / tw; }
                var iw = Math.Clamp((int)Math.Round(cw * cropFraction), 1, width);
                var ih = Math.Clamp((int)Math.Round(ch * cropFraction), 1, height);
                return new Geometry((width - iw) / 2, (height - ih) / 2, iw, ih, 0, 0, tw, th);
            }
            case ResizeMode.Letterbox:
            {
                var s = Math.Min((double)tw / width, (double)th / height);
                var nw = Math.Clamp((int)Math.Round(width * s), 1, tw);
                var nh = Math.Clamp((int)Math.Round(height * s), 1, th);
                return new Geometry(0, 0, width, height, (tw - nw) / 2, (th - nh) / 2, nw, nh);
            }
            default:
                return new Geometry(0, 0, width, height, 0, 0, tw, th);
        }
    }

    /// <summary>How much of a source's resolution the resize keeps (1 = all), for the decoder's DCT scaling.</summary>
    public static float RequiredScale(int width, int height, ScaleHint hint)
    {
        if (hint.IsNone || width <= 0 || height <= 0) return 1f;
        var g = ComputeGeometry(width, height, hint.TargetWidth, hint.TargetHeight, hint.Mode, hint.CropFraction);
        var s = Math.Max((float)g.DstWidth / g.SrcWidth, (float)g.DstHeight / g.SrcHeight);
        return Math.Min(1f, s);
    }

    /// <summary>Writes <paramref name="image"/> into <paramref name="tensor"/> (one image, <see cref="TensorLength"/> floats).</summary>
    public void Run(ImageView image, Span<float> tensor)
    {
        if (image.IsEmpty) throw new ArgumentException("empty image", nameof(image));
        if (tensor.Length < TensorLength)
            throw new ArgumentException($"tensor holds {tensor.Length} floats, one image needs {TensorLength}", nameof(tensor));
        tensor = tensor[..TensorLength];
        PlanFor(image.Width, image.Height).Execute(this, image, tensor);
    }

    private Plan PlanFor(int width, int height)
    {
        var i = 0;
        for (; i < _plans.Length && _plans[i] is { } p; i++)
            if (p.SourceWidth == width && p.SourceHeight == height) break;
        var found = i < _plans.Length ? _plans[i] : null;
        if (found is null || found.SourceWidth != width || found.SourceHeight != height)
        {
            found = new Plan(this, width, height);
            i = Math.Min(i, _plans.Length - 1); // full: the least recently used goes
        }
        // Move to the front, so the sizes in use stay and a stream of one size finds its plan first.
        for (var j = i; j > 0; j--) _plans[j] = _plans[j - 1];
        _plans[0] = found;
        return found;
    }

    /// <summary>Index and weight tables for one source size, plus row scratch.</summary>
    private sealed class Plan
    {
        public readonly int SourceWidth, SourceHeight;
        private readonly Geometry _g;
        private readonly int[] _x0, _x1, _y0, _y1;
        private readonly float[] _fx, _fy;
        private readonly float[] _rowA, _rowB; // horizontally resampled rows, planar per channel
        private readonly float[] _mix;          // one output row per channel (NHWC interleaving scratch)
        private int _rowAIndex = -1, _rowBIndex = -1;

        public Plan(Preprocessor p, int width, int height)
        {
            SourceWidth = width;
            SourceHeight = height;
            _g = p.ComputeGeometry(width, height);
            (_x0, _x1, _fx) = Axis(_g.SrcX, _g.SrcWidth, _g.DstWidth, width);
            (_y0, _y1, _fy) = Axis(_g.SrcY, _g.SrcHeight, _g.DstHeight, height);
            var c = p._spec.Channels;
            _rowA = new float[c * _g.DstWidth];
            _rowB = new float[c * _g.DstWidth];
            _mix = new float[c * _g.DstWidth];
        }

        private static (int[] I0, int[] I1, float[] F) Axis(int start, int length, int outLength, int limit)
        {
            var i0 = new int[outLength];
            var i1 = new int[outLength];
            var f = new float[outLength];
            var ratio = (double)length / outLength;
            for (var i = 0; i < outLength; i++)
            {
                var s = Math.Max(0.0, (i + 0.5) * ratio - 0.5); // PyTorch clamps negative source coordinates to 0
                var lo = (int)s;
                var frac = (float)(s - lo);
                lo = Math.Min(lo, length - 1);
                var hi = Math.Min(lo + 1, length - 1);
                i0[i] = Math.Min(start + lo, limit - 1);
                i1[i] = Math.Min(start + hi, limit - 1);
                f[i] = lo == hi ? 0f : frac;
            }
            return (i0, i1, f);
        }

        public void Execute(Preprocessor p, ImageView image, Span<float> tensor)
        {
            var spec = p._spec;
            int tw = spec.Width, th = spec.Height, c = spec.Channels, plane = tw * th;
            var dw = _g.DstWidth;
            _rowAIndex = _rowBIndex = -1;

            if (_g.DstWidth != tw || _g.DstHeight != th) FillBars(p, tensor);

            for (var y = 0; y < _g.DstHeight; y++)
            {
                var (ia, ib) = (_y0[y], _y1[y]);
                if (_rowAIndex != ia)
                {
                    if (_rowBIndex == ia) { Swap(); }
                    else { Horizontal(p, image.Row(ia), _rowA); _rowAIndex = ia; }
                }
                if (_rowBIndex != ib)
                {
                    Horizontal(p, image.Row(ib), _rowB);
                    _rowBIndex = ib;
                }
                var fy = _fy[y];
                var outY = _g.DstY + y;
                for (var ch = 0; ch < c; ch++)
                {
                    var top = _rowA.AsSpan(ch * dw, dw);
                    var bottom = _rowB.AsSpan(ch * dw, dw);
                    var dst = p.Layout == TensorLayout.Nchw
                        ? tensor.Slice(ch * plane + outY * tw + _g.DstX, dw)
                        : _mix.AsSpan(ch * dw, dw);
                    Blend(top, bottom, fy, p._a[ch], p._b[ch], dst);
                }
                if (p.Layout == TensorLayout.Nhwc)
                {
                    var row = tensor.Slice((outY * tw + _g.DstX) * c, dw * c);
                    for (var x = 0; x < dw; x++)
                        for (var ch = 0; ch < c; ch++)
                            row[x * c + ch] = _mix[ch * dw + x];
                }
            }
        }

        private void Swap()
        {
            // Row B already holds the row now needed on top: exchange contents by index bookkeeping.
            _rowB.AsSpan().CopyTo(_rowA);
            _rowAIndex = _rowBIndex;
        }

        private void Horizontal(Preprocessor p, ReadOnlySpan<byte> src, float[] dst)
        {
            var dw = _g.DstWidth;
            if (p._spec.Channels == 1)
            {
                // ITU-R BT.601 luma, as PIL's convert("L") and OpenCV's RGB2GRAY (without their rounding).
                for (var x = 0; x < dw; x++)
                {
                    int i0 = _x0[x] * 4, i1 = _x1[x] * 4;
                    var l0 = 0.299f * src[i0] + 0.587f * src[i0 + 1] + 0.114f * src[i0 + 2];
                    var l1 = 0.299f * src[i1] + 0.587f * src[i1 + 1] + 0.114f * src[i1 + 2];
                    dst[x] = l0 + (l1 - l0) * _fx[x];
                }
                return;
            }
            int s0 = p._sourceChannel[0], s1 = p._sourceChannel[1], s2 = p._sourceChannel[2];
            var d0 = dst.AsSpan(0, dw);
            var d1 = dst.AsSpan(dw, dw);
            var d2 = dst.AsSpan(2 * dw, dw);
            for (var x = 0; x < dw; x++)
            {
                int i0 = _x0[x] * 4, i1 = _x1[x] * 4;
                var f = _fx[x];
                float a0 = src[i0 + s0], a1 = src[i0 + s1], a2 = src[i0 + s2];
                d0[x] = a0 + (src[i1 + s0] - a0) * f;
                d1[x] = a1 + (src[i1 + s1] - a1) * f;
                d2[x] = a2 + (src[i1 + s2] - a2) * f;
            }
        }

        private static void Blend(ReadOnlySpan<float> top, ReadOnlySpan<float> bottom, float fy, float a, float b, Span<float> dst)
        {
            var i = 0;
            if (Vector.IsHardwareAccelerated && dst.Length >= Vector<float>.Count)
            {
                var vt = MemoryMarshal.Cast<float, Vector<float>>(top);
                var vb = MemoryMarshal.Cast<float, Vector<float>>(bottom);
                var vd = MemoryMarshal.Cast<float, Vector<float>>(dst);
                var vfy = new Vector<float>(fy);
                var va = new Vector<float>(a);
                var vbias = new Vector<float>(b);
                for (var k = 0; k < vd.Length; k++)
                    vd[k] = (vt[k] + (vb[k] - vt[k]) * vfy) * va + vbias;
                i = vd.Length * Vector<float>.Count;
            }
            for (; i < dst.Length; i++)
                dst[i] = (top[i] + (bottom[i] - top[i]) * fy) * a + b;
        }

        private void FillBars(Preprocessor p, Span<float> tensor)
        {
            var spec = p._spec;
            int tw = spec.Width, th = spec.Height, c = spec.Channels;
            for (var ch = 0; ch < c; ch++)
            {
                var value = spec.LetterboxFill * p._a[ch] + p._b[ch];
                if (p.Layout == TensorLayout.Nchw)
                    tensor.Slice(ch * tw * th, tw * th).Fill(value);
                else
                    for (var i = ch; i < tensor.Length; i += c) tensor[i] = value;
            }
        }
    }
}
