using Microsoft.Win32.SafeHandles;

namespace Edge.Daemon.Capture.V4l2;

/// <summary>
/// An open V4L2 device's file descriptor. Closed exactly once, through the syscall layer that opened it
/// (so a fake driver sees the close), even if the source is never disposed. fd 0 is a valid descriptor:
/// only -1 means "none".
/// </summary>
public sealed class V4l2FileHandle : SafeHandleMinusOneIsInvalid
{
    private readonly IV4l2Syscalls _sys;

    public V4l2FileHandle(IV4l2Syscalls sys, int fd) : base(ownsHandle: true)
    {
        _sys = sys;
        SetHandle(fd);
    }

    /// <summary>The descriptor, for a call made under <see cref="SafeHandle.DangerousAddRef"/>.</summary>
    internal int Fd => (int)DangerousGetHandle();

    protected override bool ReleaseHandle() => _sys.Close((int)handle) == 0;
}

/// <summary>
/// One mmap'ed capture buffer: its address and length, unmapped exactly once (munmap needs the length).
/// A failed mmap is <see cref="IntPtr.Zero"/> (the syscall layer turns MAP_FAILED into it), which is invalid.
/// </summary>
public sealed class V4l2BufferHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private readonly IV4l2Syscalls _sys;

    public V4l2BufferHandle(IV4l2Syscalls sys, IntPtr address, int length) : base(ownsHandle: true)
    {
        _sys = sys;
        Length = length;
        SetHandle(address);
    }

    public int Length { get; }

    protected override bool ReleaseHandle()
    {
        _sys.Unmap(handle, Length);
        return true;
    }
}
