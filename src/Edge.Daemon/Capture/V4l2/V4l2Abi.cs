using System.Runtime.InteropServices;

namespace Edge.Daemon.Capture.V4l2;

/// <summary>
/// The parts of linux/videodev2.h that capture uses, laid out as the 64-bit kernel ABI has them
/// (sizes: v4l2_capability 104, v4l2_format 208, v4l2_requestbuffers 20, v4l2_buffer 88).
/// </summary>
public static class V4l2Abi
{
    public const uint BufTypeVideoCapture = 1;
    public const uint MemoryMmap = 1;
    public const uint FieldNone = 1;
    public const uint CapVideoCapture = 0x00000001;
    public const uint CapStreaming = 0x04000000;
    public const uint CapDeviceCaps = 0x80000000;

    public static uint FourCc(string s) => (uint)(s[0] | s[1] << 8 | s[2] << 16 | s[3] << 24);
    public static readonly uint Mjpeg = FourCc("MJPG");
    public static readonly uint Yuyv = FourCc("YUYV");

    // _IOC(dir, 'V', nr, size): dir 2 = read, 1 = write, 3 = both.
    private static uint Ioc(uint dir, uint nr, int size) => dir << 30 | (uint)size << 16 | 'V' << 8 | nr;
    public static readonly uint QueryCap = Ioc(2, 0, Marshal.SizeOf<Capability>());
    public static readonly uint SetFormat = Ioc(3, 5, Marshal.SizeOf<Format>());
    public static readonly uint RequestBuffers = Ioc(3, 8, Marshal.SizeOf<RequestBuffersArgs>());
    public static readonly uint QueryBuffer = Ioc(3, 9, Marshal.SizeOf<Buffer>());
    public static readonly uint QueueBuffer = Ioc(3, 15, Marshal.SizeOf<Buffer>());
    public static readonly uint DequeueBuffer = Ioc(3, 17, Marshal.SizeOf<Buffer>());
    public static readonly uint StreamOn = Ioc(1, 18, sizeof(int));
    public static readonly uint StreamOff = Ioc(1, 19, sizeof(int));

    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Capability
    {
        public fixed byte Driver[16];
        public fixed byte Card[32];
        public fixed byte BusInfo[32];
        public uint Version;
        public uint Capabilities;
        public uint DeviceCaps;
        public fixed uint Reserved[3];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PixFormat
    {
        public uint Width, Height, PixelFormat, Field, BytesPerLine, SizeImage, Colorspace, Priv, Flags, YcbcrEnc, Quantization, XferFunc;
    }

    [StructLayout(LayoutKind.Explicit, Size = 208)]
    public struct Format
    {
        [FieldOffset(0)] public uint Type;
        [FieldOffset(8)] public PixFormat Pix; // the union is 8-aligned on 64-bit (it holds pointers)
    }

    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct RequestBuffersArgs
    {
        public uint Count, Type, Memory, Capabilities;
        public byte Flags;
        public fixed byte Reserved[3];
    }

    [StructLayout(LayoutKind.Explicit, Size = 88)]
    public struct Buffer
    {
        [FieldOffset(0)] public uint Index;
        [FieldOffset(4)] public uint Type;
        [FieldOffset(8)] public uint BytesUsed;
        [FieldOffset(12)] public uint Flags;
        [FieldOffset(16)] public uint Field;
        [FieldOffset(24)] public long TimestampSeconds;
        [FieldOffset(32)] public long TimestampMicroseconds;
        [FieldOffset(56)] public uint Sequence;
        [FieldOffset(60)] public uint Memory;
        [FieldOffset(64)] public uint Offset; // m.offset for MMAP buffers
        [FieldOffset(72)] public uint Length;
    }

    public static unsafe string Text(byte* p, int max)
    {
        var n = 0;
        while (n < max && p[n] != 0) n++;
        return System.Text.Encoding.UTF8.GetString(p, n);
    }
}
