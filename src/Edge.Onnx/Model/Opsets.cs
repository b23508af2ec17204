using Edge.Onnx.Protos;

namespace Edge.Onnx.Model;

/// <summary>
/// The one reading of a model's opset imports: the default domain is written "" or "ai.onnx", and a
/// model that imports it twice is read at the highest version (what ONNX Runtime does).
/// </summary>
public static class Opsets
{
    public const string DefaultDomain = "ai.onnx";

    /// <summary>"" and "ai.onnx" are one domain; every other domain is its own name.</summary>
    public static string Domain(string domain) => domain is "" or DefaultDomain ? DefaultDomain : domain;

    /// <summary>The version of the default domain, or null when the model does not import it.</summary>
    public static long? Default(ModelProto model) =>
        model.OpsetImport.Where(o => Domain(o.Domain) == DefaultDomain).Select(o => (long?)o.Version).Max();

    /// <summary>Every imported domain with its (highest) version.</summary>
    public static IReadOnlyDictionary<string, long> All(ModelProto model) =>
        model.OpsetImport.GroupBy(o => Domain(o.Domain)).ToDictionary(g => g.Key, g => g.Max(o => o.Version));

    /// <summary>Whether <paramref name="node"/> is an operator of the default domain.</summary>
    public static bool IsDefaultDomain(NodeProto node) => Domain(node.Domain) == DefaultDomain;

    /// <summary>An operator's name as Edge shows and matches it: "Conv" for the default domain, "com.microsoft.QLinearAdd" otherwise.</summary>
    public static string OperatorKey(NodeProto node) => IsDefaultDomain(node) ? node.OpType : $"{node.Domain}.{node.OpType}";
}
