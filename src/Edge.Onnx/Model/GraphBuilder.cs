using Edge.Onnx.Protos;
using Google.Protobuf;

namespace Edge.Onnx.Model;

/// <summary>
/// Writes ONNX models in code: inputs and outputs, initializers, nodes with attributes, opset
/// imports and metadata. Node and tensor names are checked as they are added so that a mistake
/// shows where it was made rather than as an ONNX Runtime load error.
/// </summary>
public sealed class GraphBuilder
{
    public const int DefaultOpset = 17;
    public const long DefaultIrVersion = 8; // ONNX 1.10+; ONNX Runtime 1.31 reads up to 10.

    private readonly GraphProto _graph;
    private readonly Dictionary<string, long> _opsets = new() { [""] = DefaultOpset };
    private readonly List<KeyValuePair<string, string>> _metadata = [];
    private readonly HashSet<string> _names = [];
    private int _autoName;

    public GraphBuilder(string graphName = "graph") => _graph = new GraphProto { Name = graphName };

    public string ProducerName { get; set; } = "edge";
    public string ProducerVersion { get; set; } = typeof(GraphBuilder).Assembly.GetName().Version?.ToString(3) ?? "0";
    public string? DocString { get; set; }

    /// <summary>Imports an operator set (the default domain "" is opset 17 unless set here).</summary>
    public string Input(string name, TensorProto.Types.DataType type, params Dim[] shape)
    {
        Claim(name);
        _graph.Input.Add(ValueInfo(name, type, shape));
        return name;
    }

    public string Output(string name, TensorProto.Types.DataType type, params Dim[] shape)
    {
        _graph.Output.Add(ValueInfo(name, type, shape));
        return name;
    }

    public string Initializer(TensorProto tensor)
    {
        Claim(tensor.Name);
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    public string Initializer(string name, ReadOnlySpan<float> data, params long[] dims) =>
        Initializer(TensorData.FromFloats(name, data, dims));

    public string Initializer(string name, ReadOnlySpan<long> data, params long[] dims) =>
        Initializer(TensorData.FromInt64s(name, data, dims));

    /// <summary>Adds a node with one output and returns that output's name.</summary>
    public string Node(string opType, IReadOnlyList<string> inputs, string? output = null, string? name = null,
        params AttributeProto[] attributes) =>
        Node(opType, inputs, [output ?? NextName(opType.ToLowerInvariant())], name, "", attributes)[0];

    /// <summary>Adds a node with any number of outputs (an empty input name means "omitted").</summary>
    public IReadOnlyList<string> Node(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs,
        string? name, string domain, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name ?? NextName(opType) };
        if (domain.Length > 0) node.Domain = domain;
        foreach (var input in inputs)
        {
            if (input.Length > 0 && !_names.Contains(input))
                throw new ArgumentException($"node '{node.Name}' ({opType}) reads '{input}', which nothing produces yet");
            node.Input.Add(input);
        }
        foreach (var output in outputs)
        {
            Claim(output);
            node.Output.Add(output);
        }
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return outputs;
    }

    public GraphBuilder Metadata(string key, string value)
    {
        _metadata.RemoveAll(kv => kv.Key == key);
        _metadata.Add(new(key, value));
        return this;
    }

    public GraphBuilder Metadata(IEnumerable<KeyValuePair<string, string>> entries)
    {
        foreach (var kv in entries) Metadata(kv.Key, kv.Value);
        return this;
    }

    public ModelProto Build(long irVersion = DefaultIrVersion)
    {
        if (_graph.Input.Count == 0) throw new InvalidOperationException("the graph has no input");
        if (_graph.Output.Count == 0) throw new InvalidOperationException("the graph has no output");
        foreach (var output in _graph.Output)
            if (!_names.Contains(output.Name))
                throw new InvalidOperationException($"graph output '{output.Name}' is not produced by any node");
        var model = new ModelProto
        {
            IrVersion = irVersion,
            ProducerName = ProducerName,
            ProducerVersion = ProducerVersion,
            Graph = _graph.Clone(),
        };
        if (DocString is not null) model.DocString = DocString;
        foreach (var (domain, version) in _opsets)
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        foreach (var (key, value) in _metadata)
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    private void Claim(string name)
    {
        if (string.IsNullOrEmpty(name)) throw new ArgumentException("tensor names must not be empty");
        if (!_names.Add(name)) throw new ArgumentException($"tensor name '{name}' is already used");
    }

    private string NextName(string prefix)
    {
        string name;
        do name = $"{prefix}_{_autoName++}"; while (_names.Contains(name));
        return name;
    }

    internal static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, Dim[] shape)
    {
        var tensorShape = new TensorShapeProto();
        foreach (var d in shape)
        {
            var dim = new TensorShapeProto.Types.Dimension();
            if (d.IsFixed) dim.DimValue = d.Value; else dim.DimParam = d.Symbol!;
            tensorShape.Dim.Add(dim);
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = tensorShape } },
        };
    }
}

/// <summary>Builds <see cref="AttributeProto"/>s with the right type tag.</summary>
public static class Attr
{
    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Floats(string name, params float[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        a.Floats.AddRange(values);
        return a;
    }

    public static AttributeProto Tensor(string name, TensorProto value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };
}
