using Edge.Core.Imaging;

namespace Edge.Core.Inference;

/// <summary>One class and its probability.</summary>
public readonly record struct Prediction(int ClassIndex, string Label, float Score);

/// <summary>The result for one image (the allocating convenience API).</summary>
public sealed record Classification(IReadOnlyList<Prediction> Top, DecodeInfo Image);
