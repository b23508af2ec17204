namespace Edge.Onnx.Model;

/// <summary>A tensor dimension: a fixed size or a symbolic name such as "batch".</summary>
public readonly record struct Dim(long Value, string? Symbol)
{
    public bool IsFixed => Symbol is null;
    public static Dim Fixed(long value) => new(value, null);
    public static Dim Symbolic(string name) => new(-1, name);
    public static implicit operator Dim(long value) => Fixed(value);
    public static implicit operator Dim(int value) => Fixed(value);
    public static implicit operator Dim(string name) => Symbolic(name);
    public override string ToString() => Symbol ?? Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
