namespace Edge.TestSupport;

/// <summary>The CPU features as Linux lists them in /proc/cpuinfo: a reading of CPUID independent of ours.</summary>
public static class CpuFlags
{
    public static IReadOnlySet<string> Read()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/proc/cpuinfo")) return new HashSet<string>();
        var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
        return line is null ? new HashSet<string>() : line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
    }

    /// <summary>True on an x86 machine whose kernel lists AVX-VNNI or AVX-512 VNNI; false elsewhere.</summary>
    public static bool Vnni => Read() is var f && (f.Contains("avx_vnni") || f.Contains("avx512_vnni"));

    /// <summary>True when ONNX Runtime's U8S8 kernels saturate 8-bit weight codes here: an x86 CPU without VNNI.</summary>
    public static bool SaturatesEightBitCodes =>
        System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture is System.Runtime.InteropServices.Architecture.X64 && !Vnni;
}
