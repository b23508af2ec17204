namespace Edge.Onnx.Metadata;

/// <summary>
/// A setting the model needs and no source states (a symbolic input size with no size given).
/// <see cref="Setting"/> is its <see cref="ModelSettings.Names"/> name, so a tool can say how its own
/// users give it (a flag, a configuration key) without this layer knowing either.
/// </summary>
public sealed class MissingSettingException(string setting, string message) : FormatException(message)
{
    public string Setting { get; } = setting;
}
