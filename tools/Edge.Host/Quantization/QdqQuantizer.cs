using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using static Edge.Host.Quantization.GraphEditing;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.Host.Quantization;

/// <summary>
/// Writes the QDQ form of a prepared FP32 model (ONNX Runtime's recommended INT8 format): per
/// tensor a QuantizeLinear → DequantizeLinear pair with the calibrated parameters, weights stored
/// as int8 with per-channel symmetric scales (Conv: output channels; Gemm/MatMul: output columns),
/// biases as int32 with scale = input scale × weight scale. ONNX Runtime fuses each
/// DQ → Conv/Gemm → Q into an integer kernel.
/// </summary>
public static class QdqQuantizer
{
    public static QdqResult Quantize(ModelProto prepared, IReadOnlyDictionary<string, (float Min, float Max)> ranges, QdqOptions options)
    {
        var plan = new QdqPlan(prepared, options.Exclude);
        var m = prepared.Clone();
        var g = m.Graph;
        // Node identities change with Clone: map by position.
        var original = prepared.Graph.Node.ToList();
        var cloneOf = new Dictionary<NodeProto, NodeProto>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < original.Count; i++) cloneOf[original[i]] = g.Node[i];
        var quantized = new HashSet<NodeProto>(plan.Nodes.Select(n => cloneOf[n]), ReferenceEqualityComparer.Instance);
        var names = AllNames(g);
        var zpType = options.Activations == ActivationType.Int8 ? DataType.Int8 : DataType.Uint8;

        // 1. Absorb ReLU / Clip into the producer.
        var fusedNames = new List<string>();
        foreach (var act in plan.FusedNodes)
        {
            var a = cloneOf[act];
            var producer = cloneOf[plan.Fused[act.Output[0]]];
            producer.Output[0] = a.Output[0];
            g.Node.Remove(a);
            fusedNames.Add($"{QdqPlan.NodeName(act)} ({act.OpType}) into {QdqPlan.NodeName(producer)}");
        }

        // 2. Parameters of every quantized activation.
        var parameters = new Dictionary<string, QuantParams>();
        var activations = new List<QuantizedActivation>();
        var producers = Producers(g);
        foreach (var t in plan.Tensors)
        {
            var source = plan.SharesWith.GetValueOrDefault(t, t);
            if (!ranges.TryGetValue(source, out var range))
                throw new QuantizationException($"no calibration range for tensor '{source}'");
            var (lo, hi) = range;
            if (plan.Fused.ContainsKey(source)) lo = Math.Max(lo, 0f); // ReLU floor
            if (plan.ClipMax.TryGetValue(source, out var cmax)) hi = Math.Min(hi, cmax);
            var p = QuantParams.ForActivation(lo, hi, options.Activations);
            parameters[t] = p;
            var producer = producers.GetValueOrDefault(t);
            activations.Add(new QuantizedActivation(t, producer is null ? "(input)" : QdqPlan.NodeName(producer), producer?.OpType ?? "input", p, lo, hi));
        }

        // 3. Weights and biases.
        var weights = new List<QuantizedWeight>();
        var inits = Initializers(g);
        foreach (var n in g.Node.Where(n => quantized.Contains(n) && QdqPlan.ComputeOps.Contains(n.OpType)).ToList())
        {
            var w = inits[n.Input[1]];
            var dims = w.Dims.ToArray();
            var axis = n.OpType switch
            {
                "Conv" => 0,
                "Gemm" => Int(n, "transB", 0) != 0 ? 0 : 1,
                _ => 1,
            };
            var values = TensorData.ToFloats(w);
            var q = new sbyte[values.Length];
            var scales = WeightQuantizer.PerChannel(values, dims, axis, q, options.WeightBits);
            var wq = Unique(names, w.Name + "_quantized");
            g.Initializer.Add(TensorData.FromInt8s(wq, q, dims));
            var ws = Unique(names, w.Name + "_scale");
            g.Initializer.Add(TensorData.FromFloats(ws, scales, scales.Length));
            var wz = Unique(names, w.Name + "_zero_point");
            g.Initializer.Add(TensorData.FromInt8s(wz, new sbyte[scales.Length], scales.Length));
            var wd = Unique(names, w.Name + "_dequantized");
            g.Node.Add(DequantizeNode(wq, ws, wz, wd, axis, names));
            n.Input[1] = wd;

            var biasDone = false;
            if (n.OpType is "Conv" or "Gemm" && n.Input.Count > 2 && n.Input[2].Length > 0 && inits.TryGetValue(n.Input[2], out var b)
                && parameters.TryGetValue(n.Input[0], out var xp) && b.Dims.Count == 1 && b.Dims[0] == scales.Length)
            {
                var bv = TensorData.ToFloats(b);
                var bScales = scales.Select(s => xp.Scale * s).ToArray();
                var bq = new int[bv.Length];
                for (var c = 0; c < bv.Length; c++)
                    bq[c] = (int)Math.Clamp(Math.Round(bv[c] / bScales[c], MidpointRounding.ToEven), int.MinValue + 1, int.MaxValue);
                var bqn = Unique(names, b.Name + "_quantized");
                g.Initializer.Add(TensorData.FromInt32s(bqn, bq, bq.Length));
                var bsn = Unique(names, b.Name + "_scale");
                g.Initializer.Add(TensorData.FromFloats(bsn, bScales, bScales.Length));
                var bzn = Unique(names, b.Name + "_zero_point");
                g.Initializer.Add(TensorData.FromInt32s(bzn, new int[bq.Length], bq.Length));
                var bdn = Unique(names, b.Name + "_dequantized");
                g.Node.Add(DequantizeNode(bqn, bsn, bzn, bdn, 0, names));
                n.Input[2] = bdn;
                biasDone = true;
            }
            weights.Add(new QuantizedWeight(QdqPlan.NodeName(n), n.OpType, w.Name, axis, scales.Length, scales.Min(), scales.Max(), biasDone));
        }

        // 4. A QuantizeLinear per activation tensor and a DequantizeLinear per quantized reader: ONNX
        //    Runtime fuses DQ -> op -> Q only when each DQ feeds a single node. Float readers share
        //    the first DQ, whose output keeps the tensor's original name.
        var graphInputs = g.Input.Select(i => i.Name).ToHashSet();
        foreach (var t in plan.Tensors)
        {
            var p = parameters[t];
            var scale = Unique(names, t + "_scale");
            g.Initializer.Add(TensorData.FromFloats(scale, [p.Scale]));
            var zp = Unique(names, t + "_zero_point");
            g.Initializer.Add(zpType == DataType.Int8
                ? TensorData.FromInt8s(zp, [(sbyte)p.ZeroPoint])
                : TensorData.FromUInt8s(zp, [(byte)p.ZeroPoint]));
            var q = Unique(names, t + "_quantized");
            var readers = Consumers(g).GetValueOrDefault(t, []);
            string source;
            string first;
            if (graphInputs.Contains(t))
            {
                source = t;
                first = Unique(names, t + "_dequantized");
                ReplaceUses(g, t, first);
            }
            else
            {
                source = Unique(names, t + "_float");
                var producer = Producers(g)[t];
                for (var i = 0; i < producer.Output.Count; i++) if (producer.Output[i] == t) producer.Output[i] = source;
                first = t;
            }
            g.Node.Add(QuantizeNode(source, scale, zp, q, names));
            g.Node.Add(DequantizeNode(q, scale, zp, first, null, names));
            var quantizedReaders = readers.Where(quantized.Contains).ToList();
            var firstTaken = readers.Count > quantizedReaders.Count; // a float reader already reads `first`
            foreach (var reader in quantizedReaders)
            {
                if (!firstTaken) { firstTaken = true; continue; }
                var own = Unique(names, t + "_dequantized");
                g.Node.Add(DequantizeNode(q, scale, zp, own, null, names));
                for (var i = 0; i < reader.Input.Count; i++) if (reader.Input[i] == first) reader.Input[i] = own;
            }
        }

        // 5. Drop the float weights nothing reads now, and restore a topological order.
        var used = g.Node.SelectMany(n => n.Input).Concat(g.Output.Select(o => o.Name)).ToHashSet();
        foreach (var init in g.Initializer.Where(i => !used.Contains(i.Name)).ToList()) g.Initializer.Remove(init);
        TopologicalSort(g);
        var floatCompute = plan.FloatCompute.ToList();
        m.MetadataProps.Add(new StringStringEntryProto
        {
            Key = "edge.quantization",
            Value = $"qdq; weights int8 symmetric per-channel; activations {(options.Activations == ActivationType.Int8 ? "int8" : "uint8")} asymmetric; {activations.Count} activations, {weights.Count} weights",
        });
        return new QdqResult(m, activations, weights, fusedNames, floatCompute);
    }

    private static NodeProto QuantizeNode(string x, string scale, string zp, string y, HashSet<string> names)
    {
        var n = new NodeProto { OpType = "QuantizeLinear", Name = Unique(names, y + "_QuantizeLinear") };
        n.Input.AddRange([x, scale, zp]);
        n.Output.Add(y);
        return n;
    }

    private static NodeProto DequantizeNode(string x, string scale, string zp, string y, int? axis, HashSet<string> names)
    {
        var n = new NodeProto { OpType = "DequantizeLinear", Name = Unique(names, y + "_DequantizeLinear") };
        n.Input.AddRange([x, scale, zp]);
        n.Output.Add(y);
        if (axis is { } a) n.Attribute.Add(Attr.Int("axis", a));
        return n;
    }

    internal static void TopologicalSort(GraphProto g)
    {
        var available = g.Input.Select(i => i.Name).Concat(g.Initializer.Select(i => i.Name)).ToHashSet();
        available.Add("");
        var pending = g.Node.ToList();
        var ordered = new List<NodeProto>(pending.Count);
        while (pending.Count > 0)
        {
            var progressed = false;
            for (var i = 0; i < pending.Count; i++)
            {
                var n = pending[i];
                if (!n.Input.All(available.Contains)) continue;
                ordered.Add(n);
                foreach (var o in n.Output) available.Add(o);
                pending.RemoveAt(i);
                i--;
                progressed = true;
            }
            if (!progressed)
            {
                var n = pending[0];
                var missing = n.Input.Where(i => !available.Contains(i)).ToList();
                throw new QuantizationException(
                    $"the graph has a cycle or reads a tensor nothing produces: node '{(n.Name.Length > 0 ? n.Name : n.Output.FirstOrDefault() ?? "?")}' ({n.OpType}) waits for {string.Join(", ", missing.Select(m => $"'{m}'"))}");
            }
        }
        g.Node.Clear();
        g.Node.AddRange(ordered);
    }
}
