using System.Runtime.InteropServices;
using Edge.Daemon.Capture.V4l2;
using static Edge.Daemon.Capture.V4l2.V4l2Abi;

namespace Edge.Daemon.Tests;

/// <summary>
/// A V4L2 camera at the system-call boundary: it answers QUERYCAP, S_FMT, REQBUFS, QUERYBUF,
/// QBUF/DQBUF and STREAMON/OFF as a UVC driver does, and fills dequeued buffers with recorded
/// frames (real MJPEG or YUYV made by ffmpeg). It can refuse MJPEG, or vanish after some frames.
/// </summary>
internal sealed unsafe class FakeV4l2Device(IReadOnlyList<byte[]> frames, bool offersMjpeg, int width, int height) : IV4l2Syscalls, IDisposable
{
    private readonly List<(IntPtr Address, int Length)> _buffers = [];
    private readonly Queue<uint> _queued = new();
    private int _next;
    private uint _format;
    public bool Streaming { get; private set; }
    /// <summary>The descriptor Open hands out (0 is a valid descriptor, as for a daemon started with stdin closed).</summary>
    public int Fd { get; init; } = 3;
    /// <summary>close(2) calls, by descriptor: each open descriptor must be closed exactly once.</summary>
    public List<int> ClosedFds { get; } = [];
    public bool Closed => ClosedFds.Count > 0;
    /// <summary>munmap(2) calls with the length given: each mapping must be released exactly once, with its own length.</summary>
    public List<(IntPtr Address, int Length)> Unmaps { get; } = [];
    public int Unmapped => Unmaps.Count;
    /// <summary>mmap of this buffer index fails (ENOMEM), after the ones before it succeeded.</summary>
    public int FailMapAt { get; set; } = -1;
    /// <summary>After this many frames the device reports ENODEV (unplugged).</summary>
    public int VanishAfter { get; set; } = int.MaxValue;
    /// <summary>How many dequeues answer EAGAIN although poll said a frame was ready (another reader took it, a driver's race).</summary>
    public int SpuriousWakeups { get; set; }
    public List<string> Calls { get; } = [];

    public int Open(string path) => path == "/dev/video0" ? Fd : -2;
    public int Close(int fd) { ClosedFds.Add(fd); return fd == Fd ? 0 : -9; }

    public int Ioctl(int fd, uint request, void* arg)
    {
        if (fd != Fd) return -9; // EBADF: the source must pass the descriptor it was given
        if (request == QueryCap)
        {
            Calls.Add("QUERYCAP");
            var c = (Capability*)arg;
            var card = "Fake UVC Camera"u8;
            for (var i = 0; i < card.Length; i++) c->Card[i] = card[i];
            c->Capabilities = CapVideoCapture | CapStreaming | CapDeviceCaps;
            c->DeviceCaps = CapVideoCapture | CapStreaming;
            return 0;
        }
        if (request == SetFormat)
        {
            var f = (Format*)arg;
            Calls.Add("S_FMT " + Name(f->Pix.PixelFormat));
            if (f->Type != BufTypeVideoCapture) return -22;
            // Like a UVC driver: an unsupported format is replaced by one it has, sizes by the nearest.
            f->Pix.PixelFormat = f->Pix.PixelFormat == Mjpeg && offersMjpeg ? Mjpeg : Yuyv;
            f->Pix.Width = (uint)width;
            f->Pix.Height = (uint)height;
            f->Pix.BytesPerLine = f->Pix.PixelFormat == Yuyv ? (uint)width * 2 : 0;
            f->Pix.SizeImage = (uint)(width * height * 2);
            _format = f->Pix.PixelFormat;
            return 0;
        }
        if (request == RequestBuffers)
        {
            var r = (RequestBuffersArgs*)arg;
            Calls.Add($"REQBUFS {r->Count}");
            if (r->Memory != MemoryMmap) return -22;
            for (var i = 0; i < r->Count; i++) _buffers.Add((IntPtr.Zero, width * height * 2 + 4096));
            return 0;
        }
        var b = (V4l2Abi.Buffer*)arg;
        if (request == QueryBuffer)
        {
            b->Length = (uint)_buffers[(int)b->Index].Length;
            b->Offset = b->Index * 0x100000;
            return 0;
        }
        if (request == QueueBuffer) { _queued.Enqueue(b->Index); return 0; }
        if (request == DequeueBuffer)
        {
            if (_next >= VanishAfter) return -19;
            if (SpuriousWakeups > 0) { SpuriousWakeups--; return -11; }
            if (!Streaming || _queued.Count == 0 || _next >= frames.Count) return -11;
            var index = _queued.Dequeue();
            var frame = frames[_next++];
            Marshal.Copy(frame, 0, _buffers[(int)index].Address, frame.Length);
            b->Index = index;
            b->BytesUsed = (uint)frame.Length;
            b->Sequence = (uint)_next;
            return 0;
        }
        if (request == StreamOn) { Calls.Add("STREAMON"); Streaming = true; return 0; }
        if (request == StreamOff) { Calls.Add("STREAMOFF"); Streaming = false; return 0; }
        return -25; // ENOTTY
    }

    public IntPtr Map(int fd, int length, long offset)
    {
        var index = (int)(offset / 0x100000);
        if (fd != Fd || index == FailMapAt) return IntPtr.Zero;
        var p = Marshal.AllocHGlobal(length);
        _buffers[index] = (p, length);
        return p;
    }

    public void Unmap(IntPtr address, int length)
    {
        Unmaps.Add((address, length));
        Marshal.FreeHGlobal(address);
    }

    /// <summary>Every mapping handed out, with its length (to check what was unmapped against).</summary>
    public IEnumerable<(IntPtr Address, int Length)> Mapped => _buffers.Where(b => b.Address != IntPtr.Zero);

    public int WaitReadable(int fd, int timeoutMs) => fd != Fd ? -9 : _next >= VanishAfter ? -19 : Streaming && _next < frames.Count ? 1 : 0;

    private static string Name(uint fourcc) => new([(char)(fourcc & 0xFF), (char)(fourcc >> 8 & 0xFF), (char)(fourcc >> 16 & 0xFF), (char)(fourcc >> 24)]);

    public void Dispose() { }
}
