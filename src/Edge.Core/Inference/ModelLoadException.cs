namespace Edge.Core.Inference;

/// <summary>A model that Edge will not run, with exactly what is wrong.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : EdgeException(message, inner);
