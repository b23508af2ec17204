using Edge.Onnx.Protos;

namespace Edge.Onnx.Model;

/// <summary>
/// The INT8 weights of a quantized model and the widest code among them. It matters because x86 CPUs
/// without VNNI (AVX2, AVX-512 before Cascade Lake) multiply uint8 activations by int8 weights with
/// <c>vpmaddubsw</c>, which adds two products into 16 bits and saturates once 255·|w1| + 255·|w2| &gt; 32767:
/// codes within ±63 (7 bits) are exact there, ±127 (8 bits) are not, and the model then answers differently
/// than on ARM or a VNNI CPU. <c>edge-prep quantize</c> writes 7-bit codes unless told <c>--weight-bits 8</c>.
/// </summary>
/// <param name="Tensors">INT8 weight initializers (inputs of DequantizeLinear, or the weight of an integer operator).</param>
/// <param name="MaxMagnitude">Largest |code| among them (128 for −128); 0 when there are none.</param>
public readonly record struct Int8Weights(int Tensors, int MaxMagnitude)
{
    /// <summary>Largest |code| that the 16-bit pairwise sum of <c>vpmaddubsw</c> holds exactly: 2·255·63 ≤ 32767.</summary>
    public const int ExactEverywhere = 63;

    /// <summary>7 or 8 (the bits the codes need), or 0 when the model has no INT8 weights.</summary>
    public int Bits => Tensors == 0 ? 0 : MaxMagnitude <= ExactEverywhere ? 7 : 8;

    /// <summary>True when some code is outside ±63, so that integer kernels without VNNI may saturate.</summary>
    public bool NeedVnniOnX86 => MaxMagnitude > ExactEverywhere;

    // Where each operator takes its weight: DequantizeLinear's x; the B of the integer operators.
    private static readonly Dictionary<string, int> WeightInput = new(StringComparer.Ordinal)
    {
        ["DequantizeLinear"] = 0,
        ["QLinearConv"] = 3,
        ["QLinearMatMul"] = 3,
        ["QGemm"] = 3,
        ["ConvInteger"] = 1,
        ["MatMulInteger"] = 1,
    };

    /// <summary>Scans a graph's INT8 weight initializers (each counted once, however many nodes read it).</summary>
    public static Int8Weights Of(GraphProto graph)
    {
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var t in graph.Initializer) initializers.TryAdd(t.Name, t);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int tensors = 0, max = 0;
        foreach (var node in graph.Node)
        {
            if (!WeightInput.TryGetValue(node.OpType, out var index) || index >= node.Input.Count) continue;
            var name = node.Input[index];
            if (!initializers.TryGetValue(name, out var t) || t.DataType != (int)TensorProto.Types.DataType.Int8 || !seen.Add(name)) continue;
            tensors++;
            max = Math.Max(max, MaxMagnitudeOf(t));
        }
        return new Int8Weights(tensors, max);
    }

    private static int MaxMagnitudeOf(TensorProto t)
    {
        var max = 0;
        if (!t.RawData.IsEmpty)
        {
            foreach (var b in t.RawData.Span) max = Math.Max(max, Math.Abs((int)(sbyte)b));
            return max;
        }
        // int32_data holds INT8 values one per element; a value outside sbyte's range is out of spec: count it as it reads.
        foreach (var v in t.Int32Data) max = Math.Max(max, v == int.MinValue ? int.MaxValue : Math.Abs(v));
        return max;
    }
}
