using System.Runtime.InteropServices;

namespace Edge.Daemon.Interop;

/// <summary>
/// Lowers the calling thread's scheduling priority (its nice value; Linux schedules threads one by
/// one). .NET's Thread.Priority does nothing on Linux. Lowering needs no privilege.
/// </summary>
internal static partial class ThreadPriority
{
    private const int PrioProcess = 0;

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, uint who, int prio);

    /// <summary>Gives the calling thread nice <paramref name="nice"/> (0..19); false when the system refused.</summary>
    public static bool LowerCurrentThread(int nice)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return SetPriority(PrioProcess, (uint)GetTid(), Math.Clamp(nice, 0, 19)) == 0;
        }
        catch (EntryPointNotFoundException)
        {
            return false; // glibc before 2.30 has no gettid wrapper
        }
    }
}
