using System.Runtime.InteropServices;

namespace Edge.Onnx.Interop;

/// <summary>
/// open(2) with O_NONBLOCK and statx(2): what .NET's file APIs cannot do, namely open a path without
/// blocking when it is a FIFO and learn a file's type before reading it. statx is used because its
/// struct has the same layout on every Linux architecture (struct stat does not). All file interop lives here.
/// </summary>
internal static partial class PosixFileNative
{
    // Generic Linux values, the same on x86-64 and arm64.
    public const int ORdOnly = 0;
    public const int ONoCtty = 0x100;
    public const int ONonBlock = 0x800;
    public const int OCloExec = 0x80000;
    public const int AtFdCwd = -100;
    public const int AtEmptyPath = 0x1000;
    public const uint StatxType = 0x1, StatxMode = 0x2, StatxMtime = 0x40, StatxSize = 0x200;
    public const int SIfMt = 0xF000, SIfReg = 0x8000, SIfDir = 0x4000, SIfIfo = 0x1000, SIfChr = 0x2000, SIfBlk = 0x6000, SIfSock = 0xC000, SIfLnk = 0xA000;

    /// <summary>struct statx (linux/stat.h), 256 bytes; only the fields Edge reads are named.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(112)] public long MtimeSeconds;
        [FieldOffset(120)] public uint MtimeNanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int StatxCall(int dirfd, string path, int flags, uint mask, out Statx buffer);

    public static string TypeName(int mode) => (mode & SIfMt) switch
    {
        SIfReg => "a regular file",
        SIfDir => "a directory",
        SIfIfo => "a FIFO (named pipe)",
        SIfChr => "a character device",
        SIfBlk => "a block device",
        SIfSock => "a socket",
        SIfLnk => "a symbolic link",
        _ => "not a regular file",
    };
}
