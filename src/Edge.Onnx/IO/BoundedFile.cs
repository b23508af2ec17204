using System.Runtime.InteropServices;
using Edge.Onnx.Interop;
using Microsoft.Win32.SafeHandles;

namespace Edge.Onnx.IO;

/// <summary>Type, size and modification time of a path (symbolic links followed).</summary>
public readonly record struct FileProbe(bool IsRegular, string Type, long Size, long MtimeTicks);

/// <summary>
/// Reads files that come from outside (models, images, configuration, files dropped into a watched
/// folder) with a bound on size, and only when they are regular files: a FIFO would block open(2)
/// and read(2) forever, and a link to /dev/zero would never end. The path is opened without blocking
/// and its type checked on the open descriptor, so it cannot change between the check and the read.
/// Failures are <see cref="IOException"/>s whose message names the path and says why in plain words.
/// </summary>
public static class BoundedFile
{
    /// <summary>Reads all of <paramref name="path"/>, refusing anything but a regular file of at most <paramref name="maxBytes"/>.</summary>
    public static byte[] ReadAll(string path, long maxBytes)
    {
        byte[] buffer = [];
        var n = ReadInto(path, maxBytes, ref buffer, exactSize: true);
        return n == buffer.Length ? buffer : buffer[..n];
    }

    /// <summary>
    /// Reads all of <paramref name="path"/> into <paramref name="buffer"/>, growing it when needed (a
    /// looped folder reuses one buffer); returns the length read.
    /// </summary>
    public static int ReadInto(string path, long maxBytes, ref byte[] buffer) => ReadInto(path, maxBytes, ref buffer, exactSize: false);

    private static int ReadInto(string path, long maxBytes, ref byte[] buffer, bool exactSize)
    {
        maxBytes = Math.Min(maxBytes, Array.MaxLength);
        using var handle = OpenRegular(path, out var size);
        if (size > maxBytes)
            throw new IOException($"'{path}' is {Describe(size)}, over the limit of {Describe(maxBytes)}");
        if (buffer.Length < size) buffer = exactSize ? new byte[size] : new byte[Math.Max(size, Math.Min(maxBytes, buffer.Length * 2L))];
        var total = 0;
        try
        {
            // A file still being written may be shorter than its size was a moment ago; never read past the size seen.
            int n;
            while (total < size && (n = RandomAccess.Read(handle, buffer.AsSpan(total, (int)size - total), total)) > 0) total += n;
        }
        catch (IOException e)
        {
            throw new IOException($"cannot read '{path}': {e.Message}", e);
        }
        return total;
    }

    /// <summary>Type, size and modification time, or null when the path does not exist (or cannot be examined).</summary>
    public static FileProbe? Probe(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            var info = new FileInfo(path);
            return info.Exists ? new FileProbe(true, "a regular file", info.Length, info.LastWriteTimeUtc.Ticks) : null;
        }
        if (PosixFileNative.StatxCall(PosixFileNative.AtFdCwd, path, 0, PosixFileNative.StatxType | PosixFileNative.StatxSize | PosixFileNative.StatxMtime, out var st) != 0)
            return null;
        var regular = (st.Mode & PosixFileNative.SIfMt) == PosixFileNative.SIfReg;
        return new FileProbe(regular, PosixFileNative.TypeName(st.Mode), (long)st.Size, st.MtimeSeconds * TimeSpan.TicksPerSecond + st.MtimeNanoseconds / 100);
    }

    private static SafeFileHandle OpenRegular(string path, out long size)
    {
        if (!OperatingSystem.IsLinux())
        {
            var h = File.OpenHandle(path);
            size = RandomAccess.GetLength(h);
            return h;
        }
        var fd = PosixFileNative.Open(path, PosixFileNative.ORdOnly | PosixFileNative.ONonBlock | PosixFileNative.ONoCtty | PosixFileNative.OCloExec);
        if (fd < 0) throw Errno(path, Marshal.GetLastPInvokeError());
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (PosixFileNative.StatxCall(fd, "", PosixFileNative.AtEmptyPath, PosixFileNative.StatxType | PosixFileNative.StatxSize, out var st) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw Errno(path, errno);
        }
        if ((st.Mode & PosixFileNative.SIfMt) != PosixFileNative.SIfReg)
        {
            handle.Dispose();
            throw new IOException($"'{path}' is {PosixFileNative.TypeName(st.Mode)}, not a regular file");
        }
        size = (long)st.Size;
        return handle;
    }

    private static IOException Errno(string path, int errno) => errno switch
    {
        2 => new FileNotFoundException($"'{path}' does not exist", path),
        13 or 1 => new IOException($"'{path}': permission denied"),
        20 => new IOException($"'{path}': a part of the path is not a directory"),
        21 => new IOException($"'{path}' is a directory, not a file"),
        40 => new IOException($"'{path}': too many levels of symbolic links"),
        _ => new IOException($"cannot open '{path}': {Marshal.GetPInvokeErrorMessage(errno)}"),
    };

    /// <summary>A size in words: "512 bytes", "3.2 MiB".</summary>
    public static string Describe(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} bytes",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):0.#} MiB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):0.#} GiB",
    };
}
