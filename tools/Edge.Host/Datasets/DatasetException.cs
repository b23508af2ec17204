namespace Edge.Host.Datasets;

/// <summary>A malformed dataset file, with what is wrong.</summary>
public sealed class DatasetException(string message, Exception? inner = null) : EdgeException(message, inner);
