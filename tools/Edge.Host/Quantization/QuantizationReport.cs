using Edge.Host.Quantization;

namespace Edge.Host.Quantization;

public sealed record QuantizationReport
{
    public required string Input { get; init; }
    public required string Output { get; init; }
    public required long InputBytes { get; init; }
    public required long OutputBytes { get; init; }
    public required PreparationReport Preparation { get; init; }
    public required string Method { get; init; }
    public required string ActivationType { get; init; }
    public required int WeightBits { get; init; }
    public required int CalibrationImages { get; init; }
    public required int CalibrationSkipped { get; init; }
    public required IReadOnlyList<string> SkipReasons { get; init; }
    public required IReadOnlyList<QuantizedActivation> Activations { get; init; }
    public required IReadOnlyList<QuantizedWeight> Weights { get; init; }
    public required IReadOnlyList<string> FusedActivations { get; init; }
    public required IReadOnlyList<string> KeptFloat { get; init; }
    public required IReadOnlyList<string> AutoExcluded { get; init; }
    public required FusionReport Fusion { get; init; }
    public required IReadOnlyList<LayerError> LayerErrors { get; init; }
    public Agreement? Evaluation { get; init; }
    public double? Fp32LatencyMs { get; init; }
    public double? Int8LatencyMs { get; init; }
    public required double PeakRssMib { get; init; }
}
