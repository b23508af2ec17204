using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Edge.Onnx.Model;

namespace Edge.Core.Inference;

/// <summary>
/// Whether this CPU's integer kernels compute 8-bit weight codes exactly. ONNX Runtime multiplies uint8
/// activations by int8 weights with VNNI (<c>vpdpbusd</c>, exact) where the CPU has it and with AVX2's
/// <c>vpmaddubsw</c> (16-bit pair sums, which saturate for codes beyond ±64) where it does not; ARM's dot
/// products are exact. See <see cref="Int8Weights"/>.
/// </summary>
public static class Int8Kernels
{
    public static bool IsX86 => RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86;

    /// <summary>
    /// AVX-VNNI (CPUID leaf 7.1 EAX bit 4) or AVX-512 VNNI (leaf 7.0 ECX bit 11), read from CPUID itself:
    /// under Native AOT <c>AvxVnni.IsSupported</c> is fixed when the binary is compiled (false for the
    /// baseline target), not asked of the CPU it runs on.
    /// </summary>
    public static bool HasVnni { get; } = DetectVnni();

    /// <summary>True on this machine when 8-bit weight codes can saturate.</summary>
    public static bool SaturateEightBitCodes { get; } = SaturateOn(IsX86, HasVnni);

    public static bool SaturateOn(bool x86, bool vnni) => x86 && !vnni;

    /// <summary>True when these weights are computed exactly by kernels that do (or do not) <paramref name="saturate"/> 8-bit codes.</summary>
    public static bool Exact(Int8Weights weights, bool saturate) => !(weights.NeedVnniOnX86 && saturate);

    private static bool DetectVnni()
    {
        if (!X86Base.IsSupported) return false;
        if (X86Base.CpuId(0, 0).Eax < 7) return false;
        var leaf7 = X86Base.CpuId(7, 0);
        var avx512Vnni = (leaf7.Ecx & (1 << 11)) != 0;
        var avxVnni = leaf7.Eax >= 1 && (X86Base.CpuId(7, 1).Eax & (1 << 4)) != 0;
        return avx512Vnni || avxVnni;
    }

    /// <summary>
    /// One line for a model whose codes need VNNI, run by the CPU provider on an x86 CPU that lacks it; null when its
    /// answers are exact here.
    /// </summary>
    public static string? Warning(string path, Int8Weights weights, bool saturate) =>
        !Exact(weights, saturate)
            ? $"Model '{path}' has 8-bit weight codes (up to ±{weights.MaxMagnitude} in {weights.Tensors} INT8 tensors) and this x86 CPU has no VNNI, " +
              "where ONNX Runtime's integer kernels saturate codes beyond ±64: its answers can differ from its measured accuracy. " +
              "Quantize it again with edge-prep quantize (7-bit weights by default)"
            : null;
}
