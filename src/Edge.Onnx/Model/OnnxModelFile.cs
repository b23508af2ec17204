using Edge.Onnx.Metadata;
using Edge.Onnx.IO;
using Edge.Onnx.Protos;
using Google.Protobuf;

namespace Edge.Onnx.Model;

/// <summary>
/// Reads and writes ONNX files, turning protobuf failures into messages a user can act on. A model
/// comes from outside: it is read only when it is a regular file within <see cref="MaxBytes"/>, fields
/// this schema does not know are dropped, and a model that would make ONNX Runtime read another file
/// (external data anywhere, EPContext nodes) is refused, so <see cref="ModelProto.ToByteArray"/> of
/// what was parsed is exactly what was checked.
/// </summary>
public static class OnnxModelFile
{
    /// <summary>Largest model file read (protobuf's own limit is 2 GiB).</summary>
    public const long MaxBytes = 1L << 30;

    // Unknown fields are dropped, not carried: what is handed on is only what was checked.
    private static readonly MessageParser<ModelProto> Parser = ModelProto.Parser.WithDiscardUnknownFields(true);

    /// <summary>Reads a model from <paramref name="path"/>; throws <see cref="OnnxFormatException"/> with the reason.</summary>
    public static ModelProto Load(string path) => Parse(ReadBytes(path), path);

    /// <summary>The bytes of a model file, refused when it is not a regular file or is over <see cref="MaxBytes"/>.</summary>
    public static byte[] ReadBytes(string path)
    {
        try
        {
            return BoundedFile.ReadAll(path, MaxBytes);
        }
        catch (IOException e)
        {
            throw new OnnxFormatException($"cannot read model: {e.Message}", e);
        }
    }

    /// <summary>Parses model bytes; <paramref name="displayName"/> names the source in error messages.</summary>
    public static ModelProto Parse(ReadOnlySpan<byte> bytes, string displayName = "model")
    {
        if (bytes.IsEmpty)
            throw new OnnxFormatException($"'{displayName}' is empty (0 bytes): not an ONNX model");
        ModelProto model;
        try
        {
            model = Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFormatException(
                $"'{displayName}' is not a valid ONNX model ({bytes.Length} bytes): the protobuf data is {Describe(e)}", e);
        }
        Validate(model, displayName, bytes.Length);
        return model;
    }

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> atomically (<see cref="IO.AtomicFile"/>).</summary>
    public static void Save(ModelProto model, string path) => IO.AtomicFile.Write(path, model.WriteTo);

    private static string Describe(InvalidProtocolBufferException e) =>
        e.Message.Contains("truncated", StringComparison.OrdinalIgnoreCase)
            ? "truncated (the file ends in the middle of a field; was the copy or download cut short?)"
            : "malformed (" + e.Message.TrimEnd('.') + ")";

    private static void Validate(ModelProto model, string name, int length)
    {
        // Random bytes sometimes decode as protobuf; a real model always has these.
        if (model.IrVersion <= 0 || model.Graph is null || model.OpsetImport.Count == 0)
        {
            var missing = new List<string>();
            if (model.IrVersion <= 0) missing.Add("ir_version");
            if (model.OpsetImport.Count == 0) missing.Add("opset_import");
            if (model.Graph is null) missing.Add("graph");
            throw new OnnxFormatException(
                $"'{name}' is not an ONNX model ({length} bytes): it has no {string.Join(", no ", missing)}");
        }
        if (model.Graph.Node.Count == 0)
            throw new OnnxFormatException($"'{name}' has an empty graph (no nodes)");
        CheckSelfContained(model, name);
    }

    /// <summary>
    /// Refuses anything that would make ONNX Runtime open a file besides the model: tensors with
    /// external data in initializers, sparse initializers, node attributes (a Constant's value) and
    /// nested graphs (If/Loop/Scan bodies) and functions, and EPContext nodes (which name a cache file).
    /// Loaded from bytes, ONNX Runtime would resolve such paths from the working directory.
    /// </summary>
    private static void CheckSelfContained(ModelProto model, string name)
    {
        CheckGraph(model.Graph, "graph", name, 0);
        foreach (var f in model.Functions)
        {
            foreach (var a in f.AttributeProto) CheckAttribute(a, $"function '{f.Name}'", name, 0);
            foreach (var n in f.Node) CheckNode(n, $"function '{f.Name}'", name, 0);
        }
    }

    private static void CheckGraph(GraphProto g, string where, string name, int depth)
    {
        if (depth > ModelLimits.MaxSubgraphDepth) throw new OnnxFormatException($"'{name}' nests subgraphs more than {ModelLimits.MaxSubgraphDepth} deep ({where})");
        foreach (var t in g.Initializer) CheckTensor(t, $"{where} initializer", name);
        foreach (var s in g.SparseInitializer)
        {
            if (s.Values is not null) CheckTensor(s.Values, $"{where} sparse initializer", name);
            if (s.Indices is not null) CheckTensor(s.Indices, $"{where} sparse initializer", name);
        }
        foreach (var n in g.Node) CheckNode(n, where, name, depth);
    }

    private static void CheckNode(NodeProto n, string where, string name, int depth)
    {
        var node = $"{where} node '{(n.Name.Length > 0 ? n.Name : n.OpType)}'";
        if (n.OpType == "EPContext")
            throw new OnnxFormatException($"'{name}' has an EPContext node ({node}), which makes ONNX Runtime load a separate cache file; Edge runs only self-contained models");
        foreach (var a in n.Attribute) CheckAttribute(a, node, name, depth);
    }

    private static void CheckAttribute(AttributeProto a, string node, string name, int depth)
    {
        var where = $"{node} attribute '{a.Name}'";
        if (a.T is not null) CheckTensor(a.T, where, name);
        foreach (var t in a.Tensors) CheckTensor(t, where, name);
        if (a.SparseTensor is not null)
        {
            if (a.SparseTensor.Values is not null) CheckTensor(a.SparseTensor.Values, where, name);
            if (a.SparseTensor.Indices is not null) CheckTensor(a.SparseTensor.Indices, where, name);
        }
        foreach (var s in a.SparseTensors)
        {
            if (s.Values is not null) CheckTensor(s.Values, where, name);
            if (s.Indices is not null) CheckTensor(s.Indices, where, name);
        }
        if (a.G is not null) CheckGraph(a.G, where, name, depth + 1);
        foreach (var g in a.Graphs) CheckGraph(g, where, name, depth + 1);
    }

    private static void CheckTensor(TensorProto t, string where, string name)
    {
        if (t.DataLocation == TensorProto.Types.DataLocation.External || t.ExternalData.Count > 0)
            throw new OnnxFormatException(
                $"'{name}' keeps tensor '{t.Name}' ({where}) in an external data file; Edge needs a self-contained .onnx file, which reads nothing else");
    }
}
