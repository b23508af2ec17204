namespace Edge.Onnx.Metadata;

/// <summary>
/// Bounds on what a model may declare, checked before anything is allocated from its numbers: a
/// model is input from outside, and one that declares fifty million classes or a 100,000-pixel-wide
/// input must be refused with a reason, not obeyed.
/// </summary>
public static class ModelLimits
{
    /// <summary>Most output classes (ImageNet-21k has 21,841).</summary>
    public const int MaxClasses = 100_000;
    /// <summary>Longest label, in characters.</summary>
    public const int MaxLabelLength = 200;
    /// <summary>Largest input width or height.</summary>
    public const int MaxInputSide = 4096;
    /// <summary>Largest fixed batch dimension.</summary>
    public const int MaxFixedBatch = 256;
    /// <summary>Deepest nesting of subgraphs (If/Loop/Scan bodies) a model may have.</summary>
    public const int MaxSubgraphDepth = 32;
}
