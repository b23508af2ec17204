using System.Runtime.InteropServices;

namespace Edge.ModelPrep.Interop;

/// <summary>
/// glibc malloc tuning for libtorch. Training frees and reallocates the same multi-megabyte activation
/// and gradient buffers every step; with glibc's defaults each is a fresh mmap/munmap, so every step
/// page-faults its working set back in (measured: a third of the CPU time in the kernel, 0.6x
/// PyTorch's speed). Keeping them in the heap (no mmap below 1 GiB, no trimming) fixes that.
/// </summary>
internal static partial class NativeMemory
{
    private const int M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3;

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int param, int value);

    /// <summary>Applies the tuning unless the user chose their own (GLIBC_TUNABLES) or this is not glibc.</summary>
    public static bool TuneForTraining()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("GLIBC_TUNABLES")?.Contains("malloc", StringComparison.Ordinal) == true)
            return false;
        try
        {
            var mmap = MallOpt(M_MMAP_THRESHOLD, 1 << 30) == 1 || MallOpt(M_MMAP_THRESHOLD, 32 << 20) == 1;
            var trim = MallOpt(M_TRIM_THRESHOLD, int.MaxValue) == 1;
            return mmap && trim;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // musl or another libc: nothing to tune
        }
    }
}
