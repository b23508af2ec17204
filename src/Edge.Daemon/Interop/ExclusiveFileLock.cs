using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Edge.Daemon.Interop;

/// <summary>
/// An advisory flock(2) on a lock file, held for the life of this object (and released by the kernel if the
/// process dies, so a crashed daemon leaves no stale lock). The file holds the owner's pid for the message a
/// second process gets. libc is called directly because .NET's own FileShare locking takes a shared lock on
/// every open and reports a refusal and a read-only disk with the same exception type.
/// </summary>
internal sealed partial class ExclusiveFileLock : IDisposable
{
    // O_NOFOLLOW: a lock file planted as a link would have the pid written (and the file truncated) wherever it
    // points; O_NONBLOCK: one planted as a FIFO would block the read-only open forever. Neither changes flock on a
    // regular file. The other flags have the same values on x86-64 and arm64; O_NOFOLLOW does not (asm/fcntl.h).
    private const int ORdOnly = 0x0, ORdWr = 0x2, OCreat = 0x40, ONonBlock = 0x800, OCloExec = 0x80000;
    private static readonly int ONoFollow = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x8000 : 0x20000;
    private const int EAccess = 13, EReadOnlyFs = 30;
    private const int LockEx = 2, LockNb = 4;
    private const int EWouldBlock = 11;

    private readonly SafeFileHandle _handle;

    private ExclusiveFileLock(SafeFileHandle handle) => _handle = handle;

    public enum Outcome { Acquired, HeldByAnother, Unavailable }

    /// <summary>
    /// Takes the lock on <paramref name="path"/> (created if missing). <see cref="Outcome.HeldByAnother"/> gives the
    /// holder's pid when it wrote one; <see cref="Outcome.Unavailable"/> gives the system's reason (read-only
    /// file system, no permission, no such directory).
    /// </summary>
    public static Outcome TryAcquire(string path, out ExclusiveFileLock? held, out string detail)
    {
        held = null;
        detail = "";
        var flags = ONoFollow | ONonBlock | OCloExec;
        var fd = Open(path, ORdWr | OCreat | flags, 0x1A4 /* 0644 */);
        if (fd < 0 && Marshal.GetLastPInvokeError() is EAccess or EReadOnlyFs)
            fd = Open(path, ORdOnly | flags, 0); // flock needs no write access: another user's lock file still locks
        if (fd < 0)
        {
            detail = Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
            return Outcome.Unavailable;
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Flock(fd, LockEx | LockNb) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            detail = errno == EWouldBlock ? ReadOwner(handle) : Marshal.GetPInvokeErrorMessage(errno);
            handle.Dispose();
            return errno == EWouldBlock ? Outcome.HeldByAnother : Outcome.Unavailable;
        }
        try
        {
            var pid = Encoding.ASCII.GetBytes(Environment.ProcessId + "\n");
            Ftruncate(fd, 0);
            RandomAccess.Write(handle, pid, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the lock is what matters; the pid is only for the message
        held = new ExclusiveFileLock(handle);
        return Outcome.Acquired;
    }

    private static string ReadOwner(SafeFileHandle handle)
    {
        try
        {
            Span<byte> buffer = stackalloc byte[16];
            var n = RandomAccess.Read(handle, buffer, 0);
            return int.TryParse(Encoding.ASCII.GetString(buffer[..n]).Trim(), out var pid) && pid > 0 ? pid.ToString() : "";
        }
        catch (IOException)
        {
            return "";
        }
    }

    public void Dispose() => _handle.Dispose();

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int Ftruncate(int fd, long length);
}
