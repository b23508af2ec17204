using System.Runtime.InteropServices;

namespace Edge.Daemon.Capture.V4l2;

/// <summary>
/// The system calls a V4L2 capture needs. <see cref="LinuxV4l2Syscalls"/> makes them for real;
/// tests replace this layer with a fake device that answers the same ioctls with recorded buffers,
/// so everything above it (format negotiation, buffer mapping, queueing) is the real code.
/// </summary>
public interface IV4l2Syscalls
{
    /// <summary>Opens the device; returns a file descriptor, or -errno.</summary>
    int Open(string path);
    int Close(int fd);
    /// <summary>ioctl(2); returns 0, or -errno.</summary>
    unsafe int Ioctl(int fd, uint request, void* argument);
    /// <summary>mmap(2) of a capture buffer; returns the address, or IntPtr.Zero.</summary>
    IntPtr Map(int fd, int length, long offset);
    void Unmap(IntPtr address, int length);
    /// <summary>poll(2) for input; returns &gt;0 ready, 0 timeout, -errno.</summary>
    int WaitReadable(int fd, int timeoutMs);
}

/// <summary>The real calls, through libc. All V4L2 P/Invoke lives here.</summary>
public sealed partial class LinuxV4l2Syscalls : IV4l2Syscalls
{
    private const int ORdWr = 2, ONonBlock = 0x800, ProtRead = 1, ProtWrite = 2, MapShared = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SysOpen(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int SysClose(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static unsafe partial int SysIoctl(int fd, nuint request, void* argument);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial IntPtr SysMmap(IntPtr address, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int SysMunmap(IntPtr address, nuint length);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int SysPoll(PollFd* fds, nuint count, int timeoutMs);

    public int Open(string path)
    {
        var fd = SysOpen(path, ORdWr | ONonBlock);
        return fd >= 0 ? fd : -Marshal.GetLastPInvokeError();
    }

    public int Close(int fd) => SysClose(fd) == 0 ? 0 : -Marshal.GetLastPInvokeError();

    public unsafe int Ioctl(int fd, uint request, void* argument)
    {
        while (true)
        {
            if (SysIoctl(fd, request, argument) >= 0) return 0;
            var errno = Marshal.GetLastPInvokeError();
            if (errno != 4) return -errno; // EINTR: retry
        }
    }

    public IntPtr Map(int fd, int length, long offset)
    {
        var p = SysMmap(IntPtr.Zero, (nuint)length, ProtRead | ProtWrite, MapShared, fd, offset);
        return p == new IntPtr(-1) ? IntPtr.Zero : p;
    }

    public void Unmap(IntPtr address, int length) => SysMunmap(address, (nuint)length);

    public unsafe int WaitReadable(int fd, int timeoutMs)
    {
        var p = new PollFd { Fd = fd, Events = 1 };
        var r = SysPoll(&p, 1, timeoutMs);
        return r >= 0 ? r : -Marshal.GetLastPInvokeError();
    }
}
