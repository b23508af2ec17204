using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using static Edge.Host.Quantization.GraphEditing;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.Host.Quantization;

/// <summary>What <see cref="GraphPreparer"/> changed.</summary>
public sealed record PreparationReport(int ConstantsToInitializers, int IdentitiesRemoved, int BatchNormsFolded, int NodesFolded, int UnusedInitializersRemoved);

/// <summary>
/// Makes an FP32 graph ready for quantization without changing what it computes: Constant nodes
/// become initializers, Identity and Dropout go, BatchNormalization is folded into the Conv before
/// it, shape-only operations on constants are evaluated, unused initializers are dropped. Metadata
/// is kept.
/// </summary>
public static class GraphPreparer
{
    public const long MinimumOpset = 13;

    /// <summary>Op types that mean a model is already quantized.</summary>
    internal static readonly HashSet<string> QuantizedOps =
        ["QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "QGemm",
         "QLinearAdd", "QLinearMul", "DynamicQuantizeLinear", "QLinearGlobalAveragePool", "QLinearConcat"];

    public static ModelProto Prepare(ModelProto model, out PreparationReport report)
    {
        var opset = Opsets.Default(model) ?? 0;
        if (opset < MinimumOpset)
            throw new QuantizationException(
                $"the model uses ONNX opset {opset}; quantization needs opset {MinimumOpset} or later (per-channel DequantizeLinear). Re-export with opset_version=13 or newer");
        if (model.Graph.Node.FirstOrDefault(n => QuantizedOps.Contains(n.OpType)) is { } q)
            throw new QuantizationException($"the model is already quantized (node '{q.Name}' is {q.OpType}); quantize the FP32 model instead");
        if (model.Graph.Initializer.FirstOrDefault(t => t.DataType is (int)DataType.Int8 or (int)DataType.Uint8) is { } i8)
            throw new QuantizationException($"the model is already quantized (initializer '{i8.Name}' is {(DataType)i8.DataType}); quantize the FP32 model instead");
        // A cycle or a read of a tensor nothing produces: say which node, before ONNX Runtime refuses it with less to go on.
        QdqQuantizer.TopologicalSort(model.Graph.Clone());
        // NaN or infinite weights: the model scores every class the same; quantizing would hide that behind scales.
        foreach (var t in model.Graph.Initializer.Concat(model.Graph.Node.Where(n => n.OpType == "Constant")
                     .SelectMany(n => n.Attribute).Where(a => a.T is not null).Select(a => a.T)))
        {
            if (t.DataType != (int)DataType.Float) continue;
            var values = TensorData.ToFloats(t);
            var bad = values.Count(v => !float.IsFinite(v));
            if (bad > 0)
                throw new QuantizationException(
                    $"weight '{t.Name}' holds {bad} NaN or infinite value(s) of {values.Length}; the model's scores are not numbers (its training or export went wrong): fix it before quantizing");
        }

        var m = model.Clone();
        var g = m.Graph;
        var constants = ConstantsToInitializers(g);
        var identities = RemoveIdentities(g);
        var folded = FoldConstants(g);
        var bns = FoldBatchNorms(g);
        var unused = RemoveUnusedInitializers(g);
        report = new PreparationReport(constants, identities, bns, folded, unused);
        return m;
    }

    private static int ConstantsToInitializers(GraphProto g)
    {
        var count = 0;
        foreach (var n in g.Node.Where(n => n.OpType == "Constant").ToList())
        {
            TensorProto? t = null;
            if (Attribute(n, "value")?.T is { } v) t = v.Clone();
            else if (Attribute(n, "value_float") is { } vf) t = TensorData.FromFloats("", [vf.F]);
            else if (Attribute(n, "value_floats") is { } vfs) t = TensorData.FromFloats("", [.. vfs.Floats], vfs.Floats.Count);
            else if (Attribute(n, "value_int") is { } vi) t = TensorData.FromInt64s("", [vi.I]);
            else if (Attribute(n, "value_ints") is { } vis) t = TensorData.FromInt64s("", [.. vis.Ints], vis.Ints.Count);
            if (t is null) continue;
            t.Name = n.Output[0];
            g.Initializer.Add(t);
            g.Node.Remove(n);
            count++;
        }
        return count;
    }

    private static int RemoveIdentities(GraphProto g)
    {
        var count = 0;
        foreach (var n in g.Node.Where(n => n.OpType is "Identity" or "Dropout").ToList())
        {
            var input = n.Input[0];
            var output = n.Output[0];
            if (n.Output.Count > 1 && n.Output[1].Length > 0 && Consumers(g).ContainsKey(n.Output[1])) continue; // mask is used
            if (IsGraphOutput(g, output))
            {
                // Keep the output's name: the producer of the input writes it directly.
                if (Producers(g).TryGetValue(input, out var producer) && !IsGraphOutput(g, input))
                {
                    for (var i = 0; i < producer.Output.Count; i++)
                        if (producer.Output[i] == input) producer.Output[i] = output;
                    g.Node.Remove(n);
                    ReplaceUses(g, input, output);
                    count++;
                }
                continue;
            }
            g.Node.Remove(n);
            ReplaceUses(g, output, input);
            count++;
        }
        return count;
    }

    private static int FoldBatchNorms(GraphProto g)
    {
        var count = 0;
        foreach (var bn in g.Node.Where(n => n.OpType == "BatchNormalization").ToList())
        {
            var inits = Initializers(g);
            var producers = Producers(g);
            var consumers = Consumers(g);
            if (!producers.TryGetValue(bn.Input[0], out var conv) || conv.OpType != "Conv") continue;
            if (consumers[bn.Input[0]].Count != 1 || IsGraphOutput(g, bn.Input[0])) continue;
            if (bn.Output.Skip(1).Any(o => o.Length > 0 && consumers.ContainsKey(o))) continue; // training outputs in use
            if (conv.Input.Count < 2 || !inits.TryGetValue(conv.Input[1], out var wT)) continue;
            if (!bn.Input.Skip(1).Take(4).All(inits.ContainsKey)) continue;
            var gamma = Floats(inits[bn.Input[1]]);
            var beta = Floats(inits[bn.Input[2]]);
            var mean = Floats(inits[bn.Input[3]]);
            var variance = Floats(inits[bn.Input[4]]);
            var eps = Float(bn, "epsilon", 1e-5f);
            var w = Floats(wT);
            var channels = (int)wT.Dims[0];
            if (gamma.Length != channels) continue;
            var per = w.Length / channels;
            var b = conv.Input.Count > 2 && conv.Input[2].Length > 0 && inits.TryGetValue(conv.Input[2], out var bT) ? Floats(bT) : new float[channels];
            var newW = new float[w.Length];
            var newB = new float[channels];
            for (var c = 0; c < channels; c++)
            {
                var f = gamma[c] / MathF.Sqrt(variance[c] + eps);
                for (var k = 0; k < per; k++) newW[c * per + k] = w[c * per + k] * f;
                newB[c] = (b[c] - mean[c]) * f + beta[c];
            }
            var names = AllNames(g);
            var wName = Unique(names, wT.Name + "_bn");
            var bName = Unique(names, (conv.Name.Length > 0 ? conv.Name : wT.Name) + "_bias_bn");
            g.Initializer.Add(TensorData.FromFloats(wName, newW, [.. wT.Dims]));
            g.Initializer.Add(TensorData.FromFloats(bName, newB, channels));
            conv.Input[1] = wName;
            if (conv.Input.Count > 2) conv.Input[2] = bName; else conv.Input.Add(bName);
            conv.Output[0] = bn.Output[0];
            g.Node.Remove(bn);
            count++;
        }
        return count;
    }

    /// <summary>Evaluates Reshape/Squeeze/Unsqueeze/Transpose whose inputs are all constants.</summary>
    private static int FoldConstants(GraphProto g)
    {
        var count = 0;
        bool changed;
        do
        {
            changed = false;
            var inits = Initializers(g);
            foreach (var n in g.Node.ToList())
            {
                if (n.OpType is not ("Reshape" or "Squeeze" or "Unsqueeze" or "Transpose")) continue;
                if (!n.Input.Where(i => i.Length > 0).All(inits.ContainsKey)) continue;
                var src = inits[n.Input[0]];
                long[]? dims = n.OpType switch
                {
                    "Reshape" => Reshaped([.. src.Dims], TensorData.ToInt64s(inits[n.Input[1]])),
                    "Squeeze" => n.Input.Count > 1 ? Squeezed([.. src.Dims], TensorData.ToInt64s(inits[n.Input[1]])) : [.. src.Dims.Where(d => d != 1)],
                    "Unsqueeze" => Unsqueezed([.. src.Dims], TensorData.ToInt64s(inits[n.Input[1]])),
                    _ => null,
                };
                TensorProto result;
                if (n.OpType == "Transpose")
                {
                    if (src.DataType != (int)DataType.Float) continue;
                    var perm = Attribute(n, "perm")?.Ints.ToArray() ?? [.. Enumerable.Range(0, src.Dims.Count).Reverse().Select(i => (long)i)];
                    result = Transposed(src, perm);
                }
                else
                {
                    if (dims is null) continue;
                    result = src.Clone();
                    result.Dims.Clear();
                    result.Dims.AddRange(dims);
                }
                result.Name = n.Output[0];
                g.Initializer.Add(result);
                g.Node.Remove(n);
                count++;
                changed = true;
                break;
            }
        } while (changed);
        return count;
    }

    private static long[] Reshaped(long[] dims, long[] target)
    {
        var total = dims.Aggregate(1L, (a, b) => a * b);
        var r = (long[])target.Clone();
        for (var i = 0; i < r.Length; i++) if (r[i] == 0) r[i] = dims[i];
        var known = r.Where(d => d != -1).Aggregate(1L, (a, b) => a * b);
        for (var i = 0; i < r.Length; i++) if (r[i] == -1) r[i] = total / known;
        return r;
    }

    private static long[] Squeezed(long[] dims, long[] axes)
    {
        var set = axes.Select(a => a < 0 ? a + dims.Length : a).ToHashSet();
        return [.. dims.Where((_, i) => !set.Contains(i))];
    }

    private static long[] Unsqueezed(long[] dims, long[] axes)
    {
        var rank = dims.Length + axes.Length;
        var set = axes.Select(a => a < 0 ? a + rank : a).ToHashSet();
        var r = new long[rank];
        for (int i = 0, j = 0; i < rank; i++) r[i] = set.Contains(i) ? 1 : dims[j++];
        return r;
    }

    private static TensorProto Transposed(TensorProto src, long[] perm)
    {
        var dims = src.Dims.ToArray();
        var data = Floats(src);
        var rank = dims.Length;
        var outDims = perm.Select(p => dims[p]).ToArray();
        var inStrides = new long[rank];
        for (long i = rank - 1, s = 1; i >= 0; s *= dims[i], i--) inStrides[i] = s;
        var result = new float[data.Length];
        var index = new long[rank];
        for (var o = 0; o < result.Length; o++)
        {
            long src0 = 0;
            for (var d = 0; d < rank; d++) src0 += index[d] * inStrides[perm[d]];
            result[o] = data[src0];
            for (var d = rank - 1; d >= 0; d--)
            {
                if (++index[d] < outDims[d]) break;
                index[d] = 0;
            }
        }
        return TensorData.FromFloats(src.Name, result, outDims);
    }

    private static int RemoveUnusedInitializers(GraphProto g)
    {
        var used = g.Node.SelectMany(n => n.Input).Concat(g.Output.Select(o => o.Name)).ToHashSet();
        var unused = g.Initializer.Where(t => !used.Contains(t.Name)).ToList();
        foreach (var t in unused) g.Initializer.Remove(t);
        var initNames = g.Initializer.Select(t => t.Name).ToHashSet();
        foreach (var input in g.Input.Where(i => !used.Contains(i.Name) && !initNames.Contains(i.Name) && unused.Any(u => u.Name == i.Name)).ToList())
            g.Input.Remove(input);
        return unused.Count;
    }
}
