using System.Runtime.InteropServices;

namespace Edge.ModelPrep.Interop;

/// <summary>
/// glibc malloc tuning for libtorch. Training frees and reallocates the same multi-megabyte activation
/// and gradient buffers every step; with glibc's defaults each is a fresh mmap/munmap, so every step
/// page-faults its working set back in (measured: a third of the CPU time in the kernel, 0.6x
/// PyTorch's speed). Keeping them in the heap (no mmap below 1 GiB, no trimming) fixes that. But when
/// a step's buffers are large (a 224-pixel network at batch 128: 800 MB activation maps), a heap that
/// never gives back holds 1.6x what PyTorch does; <see cref="LargeSteps"/> then sends buffers over
/// 16 MiB back to the kernel (measured: 10.8 GB peak against PyTorch's 10.4; 16.9 GB before).
/// </summary>
internal static partial class NativeMemory
{
    private const int M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3;
    private static bool _tuned;

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int param, int value);

    /// <summary>For steps whose buffers are large: buffers over 16 MiB come from and go back to the kernel (page faults cost little next to such steps).</summary>
    public static void LargeSteps()
    {
        if (!_tuned) return;
        MallOpt(M_MMAP_THRESHOLD, 16 << 20);
        KeepFreed();
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    /// <summary>
    /// For measuring: every buffer over 128 KiB comes from and goes back to the kernel, and free heap is
    /// returned, so the resident peak follows what is live (slow; for a few probe steps only).
    /// </summary>
    public static void Exact()
    {
        if (!_tuned) return;
        MallOpt(M_MMAP_THRESHOLD, 128 << 10);
        MallOpt(M_TRIM_THRESHOLD, 128 << 10);
        MallocTrim(0);
    }

    /// <summary>
    /// Gives free heap pages back to the kernel once, between phases that use memory differently (training
    /// steps, then evaluation): each phase then peaks on its own instead of on top of the other's leftovers.
    /// </summary>
    public static void Trim()
    {
        if (_tuned) MallocTrim(0);
    }

    /// <summary>Back to keeping freed memory (after <see cref="Exact"/>): no trimming.</summary>
    private static void KeepFreed() => MallOpt(M_TRIM_THRESHOLD, int.MaxValue);

    /// <summary>For steps whose buffers are small: everything below 1 GiB stays in the heap and is reused without page faults.</summary>
    public static void SmallSteps()
    {
        if (!_tuned) return;
        MallOpt(M_MMAP_THRESHOLD, 1 << 30);
        KeepFreed();
    }

    /// <summary>Applies the tuning unless the user chose their own (GLIBC_TUNABLES) or this is not glibc.</summary>
    public static bool TuneForTraining()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("GLIBC_TUNABLES")?.Contains("malloc", StringComparison.Ordinal) == true)
            return false;
        try
        {
            var mmap = MallOpt(M_MMAP_THRESHOLD, 1 << 30) == 1 || MallOpt(M_MMAP_THRESHOLD, 32 << 20) == 1;
            var trim = MallOpt(M_TRIM_THRESHOLD, int.MaxValue) == 1;
            return _tuned = mmap && trim;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // musl or another libc: nothing to tune
        }
    }
}
