using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Edge.Onnx.Model;

namespace Edge.Core.Inference;

/// <summary>
/// Whether this CPU's integer kernels compute 8-bit weight codes exactly. ONNX Runtime multiplies uint8
/// activations by int8 weights with VNNI (<c>vpdpbusd</c>, exact) where the CPU has it and with AVX2's
/// <c>vpmaddubsw</c> (16-bit pair sums, which saturate for codes beyond ±63) where it does not; ARM's dot
/// products are exact. See <see cref="Int8Weights"/>.
/// </summary>
public static class Int8Kernels
{
    public static bool IsX86 => RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86;

    /// <summary>AVX-VNNI (VEX) or AVX-512 VNNI (CPUID leaf 7: ECX bit 11, used only when the OS enables AVX-512).</summary>
    public static bool HasVnni => AvxVnni.IsSupported || (Avx512F.IsSupported && (X86Base.CpuId(7, 0).Ecx & (1 << 11)) != 0);

    /// <summary>True on this machine when 8-bit weight codes can saturate.</summary>
    public static bool SaturateEightBitCodes => SaturateOn(IsX86, IsX86 && HasVnni);

    public static bool SaturateOn(bool x86, bool vnni) => x86 && !vnni;

    /// <summary>One line for a model whose codes need VNNI on a CPU that lacks it; null when its answers are exact here.</summary>
    public static string? Warning(string path, Int8Weights weights, bool saturate) =>
        weights.NeedVnniOnX86 && saturate
            ? $"Model '{path}' has 8-bit weight codes (up to ±{weights.MaxMagnitude} in {weights.Tensors} INT8 tensors) and this x86 CPU has no VNNI, " +
              "where ONNX Runtime's integer kernels saturate codes beyond ±63: its answers can differ from its measured accuracy. " +
              "Quantize it again with edge-prep quantize (7-bit weights by default)"
            : null;
}
