namespace Edge.Core.Inference;

/// <summary>A model that loaded could not classify an input: ONNX Runtime failed, or the scores are not finite numbers.</summary>
public sealed class InferenceException(string message, Exception? inner = null) : EdgeException(message, inner)
{
    /// <summary>True when the model ran but produced NaN or infinite scores.</summary>
    public bool NonFinite { get; init; }
}
