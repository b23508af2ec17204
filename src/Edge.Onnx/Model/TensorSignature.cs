
namespace Edge.Onnx.Model;

/// <summary>One input or output of a model: name, element type and dims (symbolic ones by name).</summary>
public sealed record TensorSignature(string Name, string ElementType, IReadOnlyList<string> Dims)
{
    public override string ToString() => $"{Name}: {ElementType}[{string.Join(", ", Dims)}]";
}
