
namespace Edge.Onnx.Model;

/// <summary>What a model is made of: signature, operators, parameters and compute per layer.</summary>
public sealed record ModelReport
{
    public required string Producer { get; init; }
    public required long IrVersion { get; init; }
    public required IReadOnlyDictionary<string, long> Opsets { get; init; }
    public required IReadOnlyList<TensorSignature> Inputs { get; init; }
    public required IReadOnlyList<TensorSignature> Outputs { get; init; }
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }
    /// <summary>Operator type (with its domain when not the default) → number of nodes.</summary>
    public required IReadOnlyDictionary<string, int> Operators { get; init; }
    public required int NodeCount { get; init; }
    /// <summary>Elements of all weight initializers (INT64 shape and axes constants are not parameters).</summary>
    public required long Parameters { get; init; }
    public required long ParameterBytes { get; init; }
    public required IReadOnlyList<LayerCost> Layers { get; init; }
    /// <summary>Sum of the known per-layer MACs for one image (symbolic batch taken as 1).</summary>
    public required long TotalMacs { get; init; }
    /// <summary>Layers whose shapes could not be inferred, so their MACs are missing from the total.</summary>
    public required int LayersWithUnknownMacs { get; init; }
    /// <summary>The INT8 weights and how many bits their codes need (see <see cref="Model.Int8Weights"/>).</summary>
    public required Int8Weights Int8Weights { get; init; }
}
