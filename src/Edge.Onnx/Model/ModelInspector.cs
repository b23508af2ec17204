using Edge.Onnx.Protos;

namespace Edge.Onnx.Model;

/// <summary>Describes a model without running it: see <see cref="ModelReport"/>.</summary>
public static class ModelInspector
{
    private static readonly HashSet<string> ComputeOps =
        ["Conv", "FusedConv", "ConvInteger", "QLinearConv", "Gemm", "QGemm", "MatMul", "MatMulInteger", "QLinearMatMul"];

    public static ModelReport Inspect(ModelProto model)
    {
        var graph = model.Graph ?? throw new OnnxFormatException("the model has no graph");
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var shapes = new ShapeInference(model);

        long parameters = 0, parameterBytes = 0;
        foreach (var t in graph.Initializer)
        {
            var type = (TensorProto.Types.DataType)t.DataType;
            if (type is TensorProto.Types.DataType.Int64) continue;
            var n = TensorData.ElementCount(t);
            parameters += n;
            parameterBytes += n * ElementSize(type);
        }

        var operators = new Dictionary<string, int>();
        var layers = new List<LayerCost>();
        long total = 0;
        var unknown = 0;
        foreach (var node in graph.Node)
        {
            var key = Opsets.OperatorKey(node);
            operators[key] = operators.GetValueOrDefault(key) + 1;
            if (!ComputeOps.Contains(node.OpType)) continue;

            var output = node.Output.Count > 0 ? shapes.Shape(node.Output[0]) : null;
            var macs = Macs(node, shapes, output);
            if (macs is { } m) total += m; else unknown++;
            long layerParams = 0;
            foreach (var input in node.Input)
                if (initializers.TryGetValue(input, out var t) && t.DataType != (int)TensorProto.Types.DataType.Int64)
                    layerParams += TensorData.ElementCount(t) > 1 ? TensorData.ElementCount(t) : 0; // scales and zero points are not weights
            layers.Add(new LayerCost(string.IsNullOrEmpty(node.Name) ? node.Output.FirstOrDefault() ?? node.OpType : node.Name,
                node.OpType, output, macs, layerParams));
        }

        return new ModelReport
        {
            Producer = $"{model.ProducerName} {model.ProducerVersion}".Trim(),
            IrVersion = model.IrVersion,
            Opsets = Opsets.All(model),
            Inputs = [.. RealInputs(graph).Select(Signature)],
            Outputs = [.. graph.Output.Select(Signature)],
            Metadata = model.MetadataProps.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value),
            Operators = operators.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
                .ToDictionary(kv => kv.Key, kv => kv.Value),
            NodeCount = graph.Node.Count,
            Parameters = parameters,
            ParameterBytes = parameterBytes,
            Layers = layers,
            TotalMacs = total,
            LayersWithUnknownMacs = unknown,
            Int8Weights = Int8Weights.Of(graph),
        };
    }

    /// <summary>Graph inputs that are not initializers (IR &lt; 4 lists weights as inputs too).</summary>
    public static IEnumerable<ValueInfoProto> RealInputs(GraphProto graph)
    {
        var inits = graph.Initializer.Select(t => t.Name).ToHashSet();
        return graph.Input.Where(i => !inits.Contains(i.Name));
    }

    public static TensorSignature Signature(ValueInfoProto vi)
    {
        var t = vi.Type?.TensorType;
        if (t is null) return new TensorSignature(vi.Name, vi.Type?.ValueCase.ToString() ?? "unknown", []);
        var dims = t.Shape?.Dim.Select(d => d.HasDimValue ? d.DimValue.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : d.HasDimParam ? d.DimParam : "?").ToList() ?? [];
        return new TensorSignature(vi.Name, ((TensorProto.Types.DataType)t.ElemType).ToString().ToLowerInvariant(), dims);
    }

    private static long? Macs(NodeProto node, ShapeInference shapes, long[]? output)
    {
        string In(int i) => i < node.Input.Count ? node.Input[i] : "";
        switch (node.OpType)
        {
            case "Conv" or "FusedConv" or "ConvInteger" or "QLinearConv":
            {
                var w = shapes.Shape(node.OpType == "QLinearConv" ? In(3) : In(1));
                if (output is null || w is null || w.Length < 3) return null;
                // Each output element sums over (C/group) x kernel inputs; w is [M, C/group, k...].
                return ShapeInference.Product(output) * ShapeInference.Product(w.AsSpan(1));
            }
            case "Gemm" or "QGemm":
            {
                var a = shapes.Shape(In(0));
                if (output is null || a is not { Length: 2 }) return null;
                var k = ShapeInference.Int(node, "transA", 0) != 0 ? a[0] : a[1];
                return ShapeInference.Product(output) * k;
            }
            default: // MatMul family
            {
                var a = shapes.Shape(In(0));
                if (output is null || a is null || a.Length == 0) return null;
                return ShapeInference.Product(output) * a[^1];
            }
        }
    }

    private static long ElementSize(TensorProto.Types.DataType type) => type switch
    {
        TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Uint64 => 8,
        TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Int32 or TensorProto.Types.DataType.Uint32 => 4,
        TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16 or TensorProto.Types.DataType.Int16
            or TensorProto.Types.DataType.Uint16 => 2,
        _ => 1,
    };
}
