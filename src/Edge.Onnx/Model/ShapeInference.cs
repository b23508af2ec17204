using Edge.Onnx.Protos;

namespace Edge.Onnx.Model;

/// <summary>
/// Static shape propagation over the operators classifiers use, enough to count MACs per layer.
/// Symbolic dimensions (the batch) are taken as 1. An operator it does not know leaves its outputs
/// unknown, and everything downstream of it is reported as unknown rather than guessed.
/// Small INT64 values (Shape → Gather → Concat → Reshape chains from torch.onnx.export) are tracked too.
/// </summary>
internal sealed class ShapeInference
{
    private readonly Dictionary<string, long[]> _shapes = [];
    private readonly Dictionary<string, long[]> _values = [];
    private readonly long _opset;

    public ShapeInference(ModelProto model)
    {
        _opset = Opsets.Default(model) ?? GraphBuilder.DefaultOpset;
        var graph = model.Graph;
        foreach (var init in graph.Initializer)
        {
            _shapes[init.Name] = [.. init.Dims];
            if (init.DataType == (int)TensorProto.Types.DataType.Int64 && init.Dims.Count <= 1 && TensorData.ElementCount(init) <= 64)
                _values[init.Name] = TensorData.ToInt64s(init);
        }
        foreach (var vi in graph.Input.Concat(graph.ValueInfo))
            if (!_shapes.ContainsKey(vi.Name) && ShapeOf(vi) is { } s) _shapes[vi.Name] = s;
        foreach (var node in graph.Node) Infer(node);
    }

    public long[]? Shape(string name) => _shapes.GetValueOrDefault(name);

    /// <summary>A value-info shape with symbolic or missing dims taken as 1.</summary>
    public static long[]? ShapeOf(ValueInfoProto vi)
    {
        var t = vi.Type?.TensorType;
        if (t?.Shape is null) return null;
        return [.. t.Shape.Dim.Select(d => d.HasDimValue && d.DimValue > 0 ? d.DimValue : 1)];
    }

    private void Infer(NodeProto node)
    {
        try
        {
            InferCore(node);
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidOperationException or DivideByZeroException)
        {
            // A malformed node leaves its outputs unknown; the inspector reports them as such.
        }
    }

    private void InferCore(NodeProto node)
    {
        long[]? In(int i) => i < node.Input.Count && node.Input[i].Length > 0 ? Shape(node.Input[i]) : null;
        long[]? Val(int i) => i < node.Input.Count ? _values.GetValueOrDefault(node.Input[i]) : null;
        void Out(long[]? shape, int i = 0)
        {
            if (shape is not null && i < node.Output.Count) _shapes[node.Output[i]] = shape;
        }
        void OutVal(long[] value)
        {
            _values[node.Output[0]] = value;
            _shapes[node.Output[0]] = [value.Length];
        }

        switch (node.OpType)
        {
            case "Conv" or "FusedConv" or "ConvInteger":
                Out(ConvShape(node, In(0), In(1)));
                break;
            case "QLinearConv":
                Out(ConvShape(node, In(0), In(3)));
                break;
            case "Gemm" or "QGemm":
            {
                var (a, b) = node.OpType == "Gemm" ? (In(0), In(1)) : (In(0), In(3));
                if (a is { Length: 2 } && b is { Length: 2 })
                {
                    var m = Int(node, "transA", 0) != 0 ? a[1] : a[0];
                    var n = Int(node, "transB", 0) != 0 ? b[0] : b[1];
                    Out([m, n]);
                }
                break;
            }
            case "MatMul" or "MatMulInteger" or "QLinearMatMul":
            {
                var (a, b) = node.OpType == "QLinearMatMul" ? (In(0), In(3)) : (In(0), In(1));
                Out(MatMulShape(a, b));
                break;
            }
            case "MaxPool" or "AveragePool" or "LpPool":
                Out(PoolShape(node, In(0)));
                break;
            case "GlobalAveragePool" or "GlobalMaxPool" or "GlobalLpPool" or "QLinearGlobalAveragePool":
                if (In(0) is { Length: >= 3 } g) Out([g[0], g[1], .. Enumerable.Repeat(1L, g.Length - 2)]);
                break;
            case "Relu" or "LeakyRelu" or "Sigmoid" or "Tanh" or "Clip" or "HardSigmoid" or "HardSwish" or "Elu"
                or "Selu" or "Softmax" or "LogSoftmax" or "Identity" or "Dropout" or "BatchNormalization"
                or "InstanceNormalization" or "LRN" or "QuantizeLinear" or "DequantizeLinear" or "Cast" or "Erf"
                or "Sqrt" or "Exp" or "Log" or "Neg" or "Abs" or "Floor" or "Ceil" or "Round" or "Not" or "Sign"
                or "Softplus" or "Softsign" or "Mish" or "Gelu" or "LayerNormalization" or "Reciprocal" or "Celu"
                or "ThresholdedRelu" or "QLinearSigmoid" or "QLinearLeakyRelu" or "QLinearSoftmax" or "DynamicQuantizeLinear":
                Out(In(0));
                if (node.OpType == "Cast" && Val(0) is { } cv) OutVal(cv);
                if (node.OpType == "Identity" && Val(0) is { } iv) OutVal(iv);
                break;
            case "Add" or "Sub" or "Mul" or "Div" or "Pow" or "Max" or "Min" or "Sum" or "Mean" or "Equal" or "Less"
                or "Greater" or "LessOrEqual" or "GreaterOrEqual" or "And" or "Or" or "Xor" or "PRelu" or "Where" or "Mod":
            {
                long[]? shape = In(0);
                for (var i = 1; i < node.Input.Count && shape is not null; i++) shape = Broadcast(shape, In(i));
                Out(shape);
                break;
            }
            case "QLinearAdd" or "QLinearMul":
                Out(Broadcast(In(0), In(3)));
                break;
            case "Flatten":
                if (In(0) is { } f)
                {
                    var axis = (int)Int(node, "axis", 1);
                    if (axis < 0) axis += f.Length;
                    Out([Product(f[..axis]), Product(f[axis..])]);
                }
                break;
            case "Reshape":
                if (In(0) is { } x && Val(1) is { } target) Out(ReshapeShape(x, target, Int(node, "allowzero", 0) != 0));
                break;
            case "Transpose":
                if (In(0) is { } tr)
                {
                    var perm = Ints(node, "perm") ?? [.. Enumerable.Range(0, tr.Length).Reverse().Select(i => (long)i)];
                    Out([.. perm.Select(p => tr[p])]);
                }
                break;
            case "Concat":
            {
                var inputs = Enumerable.Range(0, node.Input.Count).Select(In).ToList();
                if (inputs.All(s => s is not null) && inputs.Count > 0)
                {
                    var axis = (int)Int(node, "axis", 0);
                    var result = (long[])inputs[0]!.Clone();
                    if (axis < 0) axis += result.Length;
                    result[axis] = inputs.Sum(s => s![axis]);
                    Out(result);
                }
                var vals = Enumerable.Range(0, node.Input.Count).Select(Val).ToList();
                if (vals.All(v => v is not null) && vals.Count > 0) OutVal([.. vals.SelectMany(v => v!)]);
                break;
            }
            case "Squeeze" or "Unsqueeze":
            {
                var axes = _opset >= 13 ? Val(1) : Ints(node, "axes");
                if (In(0) is { } s) Out(node.OpType == "Squeeze" ? SqueezeShape(s, axes) : UnsqueezeShape(s, axes));
                if (Val(0) is { } v) _values[node.Output[0]] = v; // same values, new rank
                break;
            }
            case "ReduceMean" or "ReduceMax" or "ReduceMin" or "ReduceSum" or "ReduceProd" or "ReduceL2" or "ReduceL1":
            {
                var axesFromInput = node.OpType == "ReduceSum" ? _opset >= 13 : _opset >= 18;
                var axes = axesFromInput ? Val(1) : Ints(node, "axes");
                if (In(0) is { } s) Out(ReduceShape(s, axes, Int(node, "keepdims", 1) != 0));
                break;
            }
            case "Shape":
                if (In(0) is { } sh) OutVal(sh);
                break;
            case "Gather":
                if (Val(0) is { } data && Val(1) is { } idx && Int(node, "axis", 0) == 0)
                {
                    var picked = idx.Select(i => data[i < 0 ? i + data.Length : i]).ToArray();
                    OutVal(picked);
                    if (node.Input.Count > 1 && Shape(node.Input[1]) is { Length: 0 }) _shapes[node.Output[0]] = [];
                }
                break;
            case "Constant":
                if (node.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { } t)
                {
                    Out([.. t.Dims]);
                    if (t.DataType == (int)TensorProto.Types.DataType.Int64 && TensorData.ElementCount(t) <= 64)
                    {
                        _values[node.Output[0]] = TensorData.ToInt64s(t);
                        _shapes[node.Output[0]] = [.. t.Dims];
                    }
                }
                else if (node.Attribute.FirstOrDefault(a => a.Name == "value_ints") is { } vi)
                    OutVal([.. vi.Ints]);
                else if (node.Attribute.FirstOrDefault(a => a.Name == "value_int") is { } vint)
                {
                    _values[node.Output[0]] = [vint.I];
                    _shapes[node.Output[0]] = [];
                }
                break;
            case "Pad":
            {
                var pads = _opset >= 11 ? Val(1) : Ints(node, "pads");
                if (In(0) is { } s && pads is not null && pads.Length == 2 * s.Length)
                    Out([.. s.Select((d, i) => d + pads[i] + pads[i + s.Length])]);
                break;
            }
        }
    }

    private static long[]? ConvShape(NodeProto node, long[]? x, long[]? w)
    {
        if (x is null || w is null || x.Length < 3 || w.Length != x.Length) return null;
        var spatial = x.Length - 2;
        var kernel = Ints(node, "kernel_shape") ?? w[2..];
        var outShape = SpatialOut(node, x, kernel, spatial);
        return outShape is null ? null : [x[0], w[0], .. outShape];
    }

    private static long[]? PoolShape(NodeProto node, long[]? x)
    {
        if (x is null || x.Length < 3 || Ints(node, "kernel_shape") is not { } kernel) return null;
        var outShape = SpatialOut(node, x, kernel, x.Length - 2);
        return outShape is null ? null : [x[0], x[1], .. outShape];
    }

    private static long[]? SpatialOut(NodeProto node, long[] x, long[] kernel, int spatial)
    {
        var strides = Ints(node, "strides") ?? [.. Enumerable.Repeat(1L, spatial)];
        var dilations = Ints(node, "dilations") ?? [.. Enumerable.Repeat(1L, spatial)];
        var pads = Ints(node, "pads") ?? new long[2 * spatial];
        var autoPad = Str(node, "auto_pad") ?? "NOTSET";
        var ceil = Int(node, "ceil_mode", 0) != 0;
        var result = new long[spatial];
        for (var i = 0; i < spatial; i++)
        {
            var input = x[i + 2];
            var effective = (kernel[i] - 1) * dilations[i] + 1;
            result[i] = autoPad switch
            {
                "SAME_UPPER" or "SAME_LOWER" => (input + strides[i] - 1) / strides[i],
                "VALID" => (input - effective) / strides[i] + 1,
                _ => ceil
                    ? (long)Math.Ceiling((input + pads[i] + pads[i + spatial] - effective) / (double)strides[i]) + 1
                    : (input + pads[i] + pads[i + spatial] - effective) / strides[i] + 1,
            };
            if (result[i] <= 0) return null;
        }
        return result;
    }

    private static long[]? MatMulShape(long[]? a, long[]? b)
    {
        if (a is null || b is null || a.Length == 0 || b.Length == 0) return null;
        var a2 = a.Length == 1 ? [1, a[0]] : a;
        var b2 = b.Length == 1 ? [b[0], 1] : b;
        if (a2[^1] != b2[^2]) return null;
        var batch = Broadcast(a2[..^2], b2[..^2]);
        if (batch is null) return null;
        var result = new List<long>(batch);
        if (a.Length > 1) result.Add(a2[^2]);
        if (b.Length > 1) result.Add(b2[^1]);
        return [.. result];
    }

    internal static long[]? Broadcast(long[]? a, long[]? b)
    {
        if (a is null || b is null) return null;
        var n = Math.Max(a.Length, b.Length);
        var result = new long[n];
        for (var i = 0; i < n; i++)
        {
            var da = i < n - a.Length ? 1 : a[i - (n - a.Length)];
            var db = i < n - b.Length ? 1 : b[i - (n - b.Length)];
            if (da != db && da != 1 && db != 1) return null;
            result[i] = Math.Max(da, db);
        }
        return result;
    }

    private static long[]? ReshapeShape(long[] x, long[] target, bool allowZero)
    {
        var result = (long[])target.Clone();
        var total = Product(x);
        var known = 1L;
        var inferred = -1;
        for (var i = 0; i < result.Length; i++)
        {
            if (result[i] == 0 && !allowZero) result[i] = i < x.Length ? x[i] : 0;
            if (result[i] == -1) inferred = i; else known *= result[i];
        }
        if (inferred >= 0) result[inferred] = known == 0 ? 0 : total / known;
        return Product(result) == total ? result : null;
    }

    private static long[] SqueezeShape(long[] s, long[]? axes)
    {
        if (axes is null) return [.. s.Where(d => d != 1)];
        var set = axes.Select(a => a < 0 ? a + s.Length : a).ToHashSet();
        return [.. s.Where((_, i) => !set.Contains(i))];
    }

    private static long[]? UnsqueezeShape(long[] s, long[]? axes)
    {
        if (axes is null) return null;
        var rank = s.Length + axes.Length;
        var set = axes.Select(a => a < 0 ? a + rank : a).ToHashSet();
        var result = new long[rank];
        var j = 0;
        for (var i = 0; i < rank; i++) result[i] = set.Contains(i) ? 1 : s[j++];
        return result;
    }

    private static long[] ReduceShape(long[] s, long[]? axes, bool keep)
    {
        var set = axes is null || axes.Length == 0
            ? Enumerable.Range(0, s.Length).Select(i => (long)i).ToHashSet()
            : axes.Select(a => a < 0 ? a + s.Length : a).ToHashSet();
        return keep ? [.. s.Select((d, i) => set.Contains(i) ? 1 : d)] : [.. s.Where((_, i) => !set.Contains(i))];
    }

    internal static long Product(ReadOnlySpan<long> dims)
    {
        long p = 1;
        foreach (var d in dims) p *= d;
        return p;
    }

    internal static long Int(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    internal static long[]? Ints(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? [.. a.Ints] : null;

    private static string? Str(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.S.ToStringUtf8() : null;
}
