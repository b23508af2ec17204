using Edge.Onnx.Protos;
using Google.Protobuf;

namespace Edge.Onnx.Model;

/// <summary>Reads and writes ONNX files, turning protobuf failures into messages a user can act on.</summary>
public static class OnnxModelFile
{
    /// <summary>Reads a model from <paramref name="path"/>; throws <see cref="OnnxFormatException"/> with the reason.</summary>
    public static ModelProto Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OnnxFormatException($"cannot read model '{path}': {e.Message}", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses model bytes; <paramref name="displayName"/> names the source in error messages.</summary>
    public static ModelProto Parse(ReadOnlySpan<byte> bytes, string displayName = "model")
    {
        if (bytes.IsEmpty)
            throw new OnnxFormatException($"'{displayName}' is empty (0 bytes): not an ONNX model");
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFormatException(
                $"'{displayName}' is not a valid ONNX model ({bytes.Length} bytes): the protobuf data is {Describe(e)}", e);
        }
        Validate(model, displayName, bytes.Length);
        return model;
    }

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> atomically (temp file then rename).</summary>
    public static void Save(ModelProto model, string path)
    {
        var full = Path.GetFullPath(path);
        var tmp = full + ".tmp-" + Environment.ProcessId;
        using (var stream = File.Create(tmp))
            model.WriteTo(stream);
        File.Move(tmp, full, overwrite: true);
    }

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
        foreach (var init in model.Graph.Initializer)
        {
            if (init.DataLocation == TensorProto.Types.DataLocation.External)
                throw new OnnxFormatException(
                    $"'{name}' keeps tensor '{init.Name}' in an external data file; Edge needs a self-contained .onnx file");
        }
    }
}
