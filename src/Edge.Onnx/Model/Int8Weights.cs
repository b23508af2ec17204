using Edge.Onnx.Metadata;
using Edge.Onnx.Protos;

namespace Edge.Onnx.Model;

/// <summary>
/// The INT8 weights of a quantized model and the widest code among them. It matters because x86 CPUs
/// without VNNI (AVX2, AVX-512 before Cascade Lake) multiply uint8 activations by int8 weights with
/// <c>vpmaddubsw</c>, which adds two products into 16 bits and saturates once 255·|w1| + 255·|w2| &gt; 32767:
/// codes within ±64 are exact there (2·255·64 = 32640), wider ones are not, and the model then answers
/// differently than on ARM or a VNNI CPU. <c>edge-prep quantize</c> writes codes within ±63 unless told
/// <c>--weight-bits 8</c>; ONNX Runtime's <c>reduce_range</c> writes ±64.
/// </summary>
/// <param name="Tensors">INT8 weight tensors: dequantized into a Conv, ConvTranspose, Gemm or MatMul weight, or the weight of an integer operator.</param>
/// <param name="MaxMagnitude">Largest |code| among them (128 for −128); 0 when there are none.</param>
public readonly record struct Int8Weights(int Tensors, int MaxMagnitude)
{
    /// <summary>Largest |code| that the 16-bit pair sum of <c>vpmaddubsw</c> holds exactly: 2·255·64 ≤ 32767 &lt; 2·255·65.</summary>
    public const int ExactEverywhere = 64;

    /// <summary>7 when every code is within ±64 (the reduced range, exact on every CPU), 8 when wider, 0 without INT8 weights.</summary>
    public int Bits => Tensors == 0 ? 0 : MaxMagnitude <= ExactEverywhere ? 7 : 8;

    /// <summary>True when some code is outside ±64, so that x86 integer kernels without VNNI may saturate.</summary>
    public bool NeedVnniOnX86 => MaxMagnitude > ExactEverywhere;

    // Where an integer operator takes its int8 weight(s) (ai.onnx and com.microsoft).
    private static readonly Dictionary<string, int[]> IntegerOperatorWeights = new(StringComparer.Ordinal)
    {
        ["QLinearConv"] = [3],
        ["QLinearMatMul"] = [3],
        ["QGemm"] = [3],
        ["ConvInteger"] = [1],
        ["MatMulInteger"] = [1],
        ["MatMulIntegerToFloat"] = [1],
        ["DynamicQuantizeMatMul"] = [1],
        ["QAttention"] = [1],
        ["DynamicQuantizeLSTM"] = [1, 2],
    };

    // The float operators whose input 1 is the weight that a QDQ model dequantizes (and that ONNX Runtime fuses into U8S8 kernels).
    private static readonly HashSet<string> FloatWeightReaders = new(StringComparer.Ordinal) { "Conv", "ConvTranspose", "Gemm", "MatMul" };

    /// <summary>Scans a graph and its subgraphs; each tensor counted once, however many nodes read it.</summary>
    public static Int8Weights Of(GraphProto graph)
    {
        var constants = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        var weightNames = new HashSet<string>(StringComparer.Ordinal);
        var dequantized = new Dictionary<string, string>(StringComparer.Ordinal); // DequantizeLinear output → its int8 input
        var floatWeights = new HashSet<string>(StringComparer.Ordinal);
        Collect(graph, constants, weightNames, dequantized, floatWeights, depth: 0);
        foreach (var w in floatWeights)
            if (dequantized.TryGetValue(w, out var codes)) weightNames.Add(codes);

        int tensors = 0, max = 0;
        foreach (var name in weightNames)
        {
            if (!constants.TryGetValue(name, out var t) || t.DataType != (int)TensorProto.Types.DataType.Int8) continue;
            tensors++;
            max = Math.Max(max, MaxMagnitudeOf(t));
        }
        return new Int8Weights(tensors, max);
    }

    private static void Collect(GraphProto graph, Dictionary<string, TensorProto> constants, HashSet<string> weightNames,
        Dictionary<string, string> dequantized, HashSet<string> floatWeights, int depth)
    {
        if (depth > ModelLimits.MaxSubgraphDepth) return; // the parser refuses deeper nesting; never recurse unbounded
        foreach (var t in graph.Initializer) constants.TryAdd(t.Name, t);
        foreach (var node in graph.Node)
        {
            if (node.OpType == "Constant" && node.Output.Count == 1)
                foreach (var a in node.Attribute)
                    if (a.Name == "value" && a.T is { } value) constants.TryAdd(node.Output[0], value);
            if (node.OpType == "DequantizeLinear" && node.Input.Count > 0 && node.Output.Count > 0)
                dequantized.TryAdd(node.Output[0], node.Input[0]);
            if (FloatWeightReaders.Contains(node.OpType) && node.Input.Count > 1)
                floatWeights.Add(node.Input[1]);
            if (IntegerOperatorWeights.TryGetValue(node.OpType, out var indices))
                foreach (var i in indices)
                    if (i < node.Input.Count && node.Input[i].Length > 0) weightNames.Add(node.Input[i]);
            foreach (var a in node.Attribute)
            {
                if (a.G is { } sub) Collect(sub, constants, weightNames, dequantized, floatWeights, depth + 1);
                foreach (var g in a.Graphs) Collect(g, constants, weightNames, dequantized, floatWeights, depth + 1);
            }
        }
    }

    private static int MaxMagnitudeOf(TensorProto t)
    {
        var max = 0;
        if (!t.RawData.IsEmpty)
        {
            foreach (var b in t.RawData.Span) max = Math.Max(max, Math.Abs((int)(sbyte)b));
            return max;
        }
        // int32_data holds INT8 values one per element; what runs is the low byte.
        foreach (var v in t.Int32Data) max = Math.Max(max, Math.Abs((int)(sbyte)v));
        return max;
    }
}
