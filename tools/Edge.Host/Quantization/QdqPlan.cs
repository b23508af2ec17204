using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using static Edge.Host.Quantization.GraphEditing;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.Host.Quantization;

/// <summary>
/// Which tensors of a prepared FP32 graph the QDQ form quantizes. Worked out once from the graph,
/// so that calibration measures exactly the tensors that <see cref="QdqQuantizer"/> then needs.
/// </summary>
public sealed class QdqPlan
{
    internal static readonly HashSet<string> ComputeOps = ["Conv", "Gemm", "MatMul"];
    internal static readonly HashSet<string> ArithmeticOps = ["Add", "Mul", "Concat", "GlobalAveragePool", "AveragePool"];
    /// <summary>Ops that move values without changing them: their output shares the input's parameters.</summary>
    internal static readonly HashSet<string> DataMovementOps = ["MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze"];

    public QdqPlan(ModelProto prepared, IReadOnlySet<string> exclude)
    {
        var g = prepared.Graph;
        var inits = Initializers(g);
        var consumers = Consumers(g);
        var producers = Producers(g);
        bool Excluded(NodeProto n) => exclude.Contains(n.Name) || n.Output.Any(exclude.Contains);

        foreach (var n in g.Node)
        {
            if (Excluded(n)) { if (ComputeOps.Contains(n.OpType)) FloatCompute.Add($"{NodeName(n)} ({n.OpType}): excluded"); continue; }
            if (ComputeOps.Contains(n.OpType))
            {
                var why = ComputeRefusal(n, inits);
                if (why is null) Nodes.Add(n); else FloatCompute.Add($"{NodeName(n)} ({n.OpType}): {why}");
            }
            else if (ArithmeticOps.Contains(n.OpType) && n.Input.All(i => !inits.ContainsKey(i) || n.OpType == "Mul"))
            {
                if (n.OpType == "Mul" && n.Input.Any(inits.ContainsKey)) continue;
                Nodes.Add(n);
            }
        }
        // ReLU / Clip(0, x) right after a quantized Conv/Gemm/Add is absorbed into the output's range.
        foreach (var n in g.Node)
        {
            if (n.OpType is not ("Relu" or "Clip") || Excluded(n) || IsGraphOutput(g, n.Output[0])) continue;
            if (!producers.TryGetValue(n.Input[0], out var p) || !Nodes.Contains(p) || p.OpType is not ("Conv" or "Gemm" or "Add")) continue;
            if (consumers[n.Input[0]].Count != 1 || IsGraphOutput(g, n.Input[0])) continue;
            if (n.OpType == "Clip")
            {
                var min = n.Input.Count > 1 && inits.TryGetValue(n.Input[1], out var mn) ? TensorData.ToFloats(mn)[0] : float.NegativeInfinity;
                var max = n.Input.Count > 2 && inits.TryGetValue(n.Input[2], out var mx) ? TensorData.ToFloats(mx)[0] : float.PositiveInfinity;
                if (min != 0f) continue;
                ClipMax[n.Output[0]] = max;
            }
            Fused[n.Output[0]] = p;
            FusedNodes.Add(n);
        }

        // Data movement joins when its input is produced by a quantized node.
        bool grew;
        do
        {
            grew = false;
            foreach (var n in g.Node)
            {
                if (!DataMovementOps.Contains(n.OpType) || Nodes.Contains(n) || Excluded(n)) continue;
                if (producers.TryGetValue(n.Input[0], out var p) && (Nodes.Contains(p) || FusedNodes.Contains(p)))
                {
                    Nodes.Add(n);
                    grew = true;
                }
            }
        } while (grew);

        // Tensors to quantize: activation inputs of quantized nodes, and their outputs when another quantized node reads them.
        string Out(NodeProto n) => FusedOutput(n);
        foreach (var n in Nodes)
        {
            // Only data inputs: not weights, shapes or axes.
            var dataInputs = n.OpType is "Add" or "Mul" or "Concat" ? n.Input.ToList() : [n.Input[0]];
            foreach (var i in dataInputs)
                if (i.Length > 0 && !inits.ContainsKey(i)) Add(i);
            var o = Out(n);
            if (!IsGraphOutput(g, o) && consumers.TryGetValue(o, out var readers) && readers.Any(r => Nodes.Contains(r)))
                Add(o);
        }
        foreach (var t in Tensors)
        {
            if (producers.TryGetValue(t, out var p) && DataMovementOps.Contains(p.OpType) && Nodes.Contains(p))
            {
                // Shares the input's parameters; follow the chain to a tensor that is calibrated.
                var source = p.Input[0];
                while (producers.TryGetValue(source, out var q) && DataMovementOps.Contains(q.OpType) && Nodes.Contains(q)) source = q.Input[0];
                SharesWith[t] = source;
            }
        }
    }

    private void Add(string t)
    {
        if (!Tensors.Contains(t)) Tensors.Add(t);
    }

    private string FusedOutput(NodeProto n)
    {
        foreach (var (output, producer) in Fused)
            if (ReferenceEquals(producer, n)) return output;
        return n.Output[0];
    }

    private static string? ComputeRefusal(NodeProto n, Dictionary<string, TensorProto> inits)
    {
        if (n.Input.Count < 2 || !inits.TryGetValue(n.Input[1], out var w)) return "weights are not a constant";
        if (w.DataType != (int)DataType.Float) return "weights are not float";
        if (n.OpType == "Gemm")
        {
            if (Float(n, "alpha", 1f) != 1f || Float(n, "beta", 1f) != 1f) return "alpha/beta other than 1";
            if (Int(n, "transA", 0) != 0) return "transA";
            if (w.Dims.Count != 2) return "weights are not 2-D";
        }
        if (n.OpType == "MatMul" && w.Dims.Count != 2) return "weights are not 2-D";
        if (n.OpType == "Conv" && w.Dims.Count < 3) return "weights are not a convolution kernel";
        return null;
    }

    internal static string NodeName(NodeProto n) => n.Name.Length > 0 ? n.Name : n.Output[0];

    /// <summary>Nodes that run on integers after ONNX Runtime's QDQ fusion.</summary>
    public HashSet<NodeProto> Nodes { get; } = new(ReferenceEqualityComparer.Instance);
    /// <summary>Activation output → the node whose output it replaces.</summary>
    public Dictionary<string, NodeProto> Fused { get; } = [];
    public HashSet<NodeProto> FusedNodes { get; } = new(ReferenceEqualityComparer.Instance);
    public Dictionary<string, float> ClipMax { get; } = [];
    /// <summary>Every activation tensor that gets a QuantizeLinear/DequantizeLinear pair, in graph order.</summary>
    public List<string> Tensors { get; } = [];
    /// <summary>Tensors that take the parameters of another (outputs of MaxPool, Flatten, Reshape...).</summary>
    public Dictionary<string, string> SharesWith { get; } = [];
    public List<string> FloatCompute { get; } = [];

    /// <summary>The tensors whose ranges calibration must measure.</summary>
    public IEnumerable<string> CalibratedTensors => Tensors.Where(t => !SharesWith.ContainsKey(t));
}
