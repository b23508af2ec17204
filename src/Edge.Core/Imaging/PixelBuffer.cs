using System.Runtime.InteropServices;

namespace Edge.Core.Imaging;

/// <summary>
/// A reusable block of native memory holding one RGBA8888 image. It only grows, so after the
/// first frames of a stream decoding reuses it without allocating.
/// </summary>
public sealed unsafe class PixelBuffer : IDisposable
{
    private byte* _data;
    private nuint _capacity;

    public int Width { get; private set; }
    public int Height { get; private set; }
    public int RowBytes => Width * 4;
    public nuint Capacity => _capacity;

    internal byte* Pointer => _data;

    /// <summary>Sets the image size, growing the memory if needed (contents are undefined afterwards).</summary>
    public void Reset(int width, int height)
    {
        ObjectDisposedException.ThrowIf(_data is null && _capacity == nuint.MaxValue, this);
        var needed = (nuint)width * (nuint)height * 4;
        if (needed > _capacity)
        {
            if (_data is not null) NativeMemory.AlignedFree(_data);
            _data = null;
            _capacity = 0;
            _data = (byte*)NativeMemory.AlignedAlloc(needed, 64);
            _capacity = needed;
        }
        Width = width;
        Height = height;
    }

    /// <summary>Frees the memory when it is larger than <paramref name="maxBytes"/> (after an unusually large image), so it is not kept for good.</summary>
    public void Trim(long maxBytes)
    {
        if (_data is null || _capacity <= (nuint)maxBytes || _capacity == nuint.MaxValue) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
        _capacity = 0;
        Width = Height = 0;
    }

    public ImageView View => new(_data, Width, Height, RowBytes);

    public Span<byte> Span => new(_data, checked(Width * Height * 4));

    public void Dispose()
    {
        if (_data is not null) NativeMemory.AlignedFree(_data);
        _data = null;
        _capacity = nuint.MaxValue;
        GC.SuppressFinalize(this);
    }

    ~PixelBuffer()
    {
        if (_data is not null) NativeMemory.AlignedFree(_data);
    }
}

/// <summary>A read-only view of RGBA8888 pixels (R, G, B, A bytes per pixel; alpha is ignored).</summary>
public readonly unsafe struct ImageView
{
    private readonly byte* _data;

    public ImageView(byte* data, int width, int height, int rowBytes)
    {
        _data = data;
        Width = width;
        Height = height;
        RowBytes = rowBytes;
    }

    public int Width { get; }
    public int Height { get; }
    public int RowBytes { get; }
    public bool IsEmpty => _data is null || Width <= 0 || Height <= 0;

    public ReadOnlySpan<byte> Row(int y)
    {
        if ((uint)y >= (uint)Height) throw new ArgumentOutOfRangeException(nameof(y));
        return new ReadOnlySpan<byte>(_data + (nint)y * RowBytes, Width * 4);
    }

    /// <summary>
    /// The rectangle at (<paramref name="x"/>, <paramref name="y"/>) of this image, sharing its memory (no copy): how a
    /// region of a camera frame is classified without copying pixels.
    /// </summary>
    public ImageView Crop(int x, int y, int width, int height)
    {
        if (x < 0 || y < 0 || width <= 0 || height <= 0 || x > Width - width || y > Height - height)
            throw new ArgumentOutOfRangeException(nameof(width), $"crop {x},{y} {width}x{height} is outside the {Width}x{Height} image");
        return new ImageView(_data + (nint)y * RowBytes + (nint)x * 4, width, height, RowBytes);
    }

    /// <summary>Wraps a managed RGBA array; the caller keeps it pinned for the view's lifetime.</summary>
    public static ImageView FromPinned(byte* data, int width, int height) => new(data, width, height, width * 4);
}
