using SkiaSharp;
using static Edge.Daemon.Capture.V4l2.V4l2Abi;

namespace Edge.Daemon.Capture.V4l2;

/// <summary>
/// A USB camera through V4L2 directly: asks for MJPEG at the wanted size (the camera compresses, we
/// only decode), falls back to YUYV (converted to RGB with BT.601 and JPEG-encoded so the rest of the
/// pipeline sees one format), and streams through four mmap'ed buffers (DQBUF → copy → QBUF).
/// </summary>
public sealed class V4l2Source(string device, int width, int height, IV4l2Syscalls? syscalls = null) : IFrameSource
{
    private const int BufferCount = 4;
    private readonly IV4l2Syscalls _sys = syscalls ?? new LinuxV4l2Syscalls();
    // Owned native resources: the descriptor and the mapped buffers release themselves exactly once (DisposeAsync,
    // or the finalizer of a source nobody disposed); calls hold a reference so a concurrent dispose cannot close mid-call.
    private V4l2FileHandle? _fd;
    private readonly V4l2BufferHandle?[] _buffers = new V4l2BufferHandle?[BufferCount];
    private bool _streaming;
    private long _sequence;
    private byte[] _rgba = [];

    public string Description => $"v4l2: {device} {width}x{height}{(PixelFormat == 0 ? "" : PixelFormat == Mjpeg ? " MJPEG" : " YUYV")}";
    public uint PixelFormat { get; private set; }
    public int Width { get; private set; }
    public int Height { get; private set; }
    public string? Card { get; private set; }

    public unsafe ValueTask OpenAsync(CancellationToken ct)
    {
        var fd = _sys.Open(device);
        if (fd < 0) throw new IOException($"cannot open {device}: {Errno(-fd)}");
        _fd = new V4l2FileHandle(_sys, fd);

        Capability cap;
        Check(Ioctl(QueryCap, &cap), "VIDIOC_QUERYCAP");
        Card = Text(cap.Card, 32);
        var caps = (cap.Capabilities & CapDeviceCaps) != 0 ? cap.DeviceCaps : cap.Capabilities;
        if ((caps & CapVideoCapture) == 0 || (caps & CapStreaming) == 0)
            throw new IOException($"{device} ({Card}) is not a streaming video capture device");

        if (!TrySetFormat(Mjpeg) && !TrySetFormat(Yuyv))
            throw new IOException($"{device} ({Card}) offers neither MJPEG nor YUYV");

        var req = new RequestBuffersArgs { Count = BufferCount, Type = BufTypeVideoCapture, Memory = MemoryMmap };
        Check(Ioctl(RequestBuffers, &req), "VIDIOC_REQBUFS");
        if (req.Count < 2) throw new IOException($"{device} granted only {req.Count} buffer(s)");
        for (var i = 0; i < Math.Min(req.Count, (uint)BufferCount); i++)
        {
            var b = new V4l2Abi.Buffer { Index = (uint)i, Type = BufTypeVideoCapture, Memory = MemoryMmap };
            Check(Ioctl(QueryBuffer, &b), "VIDIOC_QUERYBUF");
            var buffer = new V4l2BufferHandle(_sys, MapBuffer((int)b.Length, b.Offset), (int)b.Length);
            if (buffer.IsInvalid)
            {
                buffer.Dispose();
                throw new IOException($"{device}: mmap of buffer {i} failed");
            }
            _buffers[i] = buffer;
            Check(Ioctl(QueueBuffer, &b), "VIDIOC_QBUF");
        }
        var type = (int)BufTypeVideoCapture;
        Check(Ioctl(StreamOn, &type), "VIDIOC_STREAMON");
        _streaming = true;
        return ValueTask.CompletedTask;
    }

    private unsafe bool TrySetFormat(uint fourcc)
    {
        var f = new Format { Type = BufTypeVideoCapture };
        f.Pix.Width = (uint)width;
        f.Pix.Height = (uint)height;
        f.Pix.PixelFormat = fourcc;
        f.Pix.Field = FieldNone;
        Check(Ioctl(SetFormat, &f), "VIDIOC_S_FMT");
        if (f.Pix.PixelFormat != fourcc) return false; // the driver substituted its own format
        PixelFormat = fourcc;
        (Width, Height) = ((int)f.Pix.Width, (int)f.Pix.Height);
        return true;
    }

    public async ValueTask<Frame?> ReadAsync(CancellationToken ct)
    {
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var ready = WaitReadable();
            if (ready < 0) throw new IOException($"{device}: poll failed: {Errno(-ready)}");
            if (ready == 0)
            {
                await Task.Delay(5, ct).ConfigureAwait(false); // no frame yet; the supervisor's timeout covers a dead camera
                continue;
            }
            // EAGAIN after poll (the buffer went to another reader, or a driver's race) means "not yet": wait
            // again. Returning null would say "the source ended" and make the supervisor reopen the camera.
            if (Dequeue() is { } frame) return frame;
            await Task.Delay(1, ct).ConfigureAwait(false); // rare; never a hot spin on a driver that keeps saying so
        }
    }

    private unsafe Frame? Dequeue()
    {
        var b = new V4l2Abi.Buffer { Type = BufTypeVideoCapture, Memory = MemoryMmap };
        var r = Ioctl(DequeueBuffer, &b);
        if (r == -11) return null; // EAGAIN: raced with poll; ReadAsync waits for the next one
        Check(r, "VIDIOC_DQBUF");
        var buffer = _buffers[b.Index] ?? throw new IOException($"{device}: the driver dequeued buffer {b.Index}, which was not mapped");
        var added = false;
        try
        {
            buffer.DangerousAddRef(ref added);
            var data = new ReadOnlySpan<byte>((void*)buffer.DangerousGetHandle(), (int)Math.Min(b.BytesUsed, (uint)buffer.Length));
            if (PixelFormat == Mjpeg) return Frame.Copy(data, ++_sequence, DateTimeOffset.UtcNow);
            return Frame.Copy(YuyvToJpeg(data), ++_sequence, DateTimeOffset.UtcNow);
        }
        finally
        {
            if (added) buffer.DangerousRelease();
            Check(Ioctl(QueueBuffer, &b), "VIDIOC_QBUF");
        }
    }

    /// <summary>YUYV 4:2:2 (BT.601, limited range) to RGBA, then JPEG at quality 90.</summary>
    private unsafe byte[] YuyvToJpeg(ReadOnlySpan<byte> yuyv)
    {
        var pixels = Width * Height;
        if (yuyv.Length < pixels * 2) throw new IOException($"{device}: a YUYV frame of {yuyv.Length} bytes is short of {pixels * 2}");
        if (_rgba.Length < pixels * 4) _rgba = new byte[pixels * 4];
        YuyvToRgba(yuyv, _rgba);
        var info = new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        fixed (byte* p = _rgba)
        {
            using var pixmap = new SKPixmap(info, (IntPtr)p);
            using var data = pixmap.Encode(SKEncodedImageFormat.Jpeg, 90) ?? throw new IOException($"{device}: JPEG encoding of a YUYV frame failed");
            return data.ToArray();
        }
    }

    public static void YuyvToRgba(ReadOnlySpan<byte> yuyv, Span<byte> rgba)
    {
        for (int i = 0, o = 0; i + 3 < yuyv.Length && o + 7 < rgba.Length; i += 4, o += 8)
        {
            int u = yuyv[i + 1] - 128, v = yuyv[i + 3] - 128;
            Pixel(yuyv[i], u, v, rgba[o..]);
            Pixel(yuyv[i + 2], u, v, rgba[(o + 4)..]);
        }

        static void Pixel(int y, int u, int v, Span<byte> d)
        {
            var c = 298 * (y - 16);
            d[0] = Clamp((c + 409 * v + 128) >> 8);
            d[1] = Clamp((c - 100 * u - 208 * v + 128) >> 8);
            d[2] = Clamp((c + 516 * u + 128) >> 8);
            d[3] = 255;
        }

        static byte Clamp(int x) => (byte)Math.Clamp(x, 0, 255);
    }

    // Each call on the descriptor holds a reference to its handle (no allocation), so it is never made on a closed or reused fd.
    private unsafe int Ioctl(uint request, void* argument)
    {
        var fd = _fd ?? throw new ObjectDisposedException(nameof(V4l2Source));
        var added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            return _sys.Ioctl(fd.Fd, request, argument);
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
    }

    private IntPtr MapBuffer(int length, long offset)
    {
        var fd = _fd ?? throw new ObjectDisposedException(nameof(V4l2Source));
        var added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            return _sys.Map(fd.Fd, length, offset);
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
    }

    private int WaitReadable()
    {
        var fd = _fd ?? throw new ObjectDisposedException(nameof(V4l2Source));
        var added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            return _sys.WaitReadable(fd.Fd, 0);
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
    }

    private void Check(int result, string what)
    {
        if (result < 0) throw new IOException($"{device}: {what} failed: {Errno(-result)}");
    }

    private static string Errno(int errno) => errno switch
    {
        2 => "no such device (unplugged?)",
        13 => "permission denied (add the user to the 'video' group)",
        16 => "busy (another program is using the camera)",
        19 => "the device has gone (unplugged)",
        22 => "invalid argument (the driver does not support this request)",
        _ => $"errno {errno}",
    };

    public unsafe ValueTask DisposeAsync()
    {
        if (_fd is { IsClosed: false })
        {
            if (_streaming)
            {
                var type = (int)BufTypeVideoCapture;
                Ioctl(StreamOff, &type);
                _streaming = false;
            }
            // Buffers before the descriptor: the mappings belong to the open device.
            for (var i = 0; i < _buffers.Length; i++)
            {
                _buffers[i]?.Dispose();
                _buffers[i] = null;
            }
            _fd.Dispose();
        }
        return ValueTask.CompletedTask;
    }
}
