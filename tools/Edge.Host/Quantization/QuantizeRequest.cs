using Edge.Core.Diagnostics;
using Edge.Host.Datasets;
using Edge.Host.Quantization;

namespace Edge.Host.Quantization;

public sealed record QuantizeRequest
{
    public required string InputPath { get; init; }
    public required string OutputPath { get; init; }
    public required ImageSet Calibration { get; init; }
    public int Samples { get; init; } = 512;
    public CalibrationMethod Method { get; init; } = CalibrationMethod.MinMax;
    public double Percentile { get; init; } = 99.999;
    public ActivationType Activations { get; init; } = ActivationType.UInt8;
    /// <summary>Weight bits, 7 (exact on every CPU) or 8 (exact on ARM and VNNI x86 only): <see cref="WeightQuantizer"/>.</summary>
    public int WeightBits { get; init; } = WeightQuantizer.DefaultBits;
    public IReadOnlySet<string> Exclude { get; init; } = new HashSet<string>();
    /// <summary>Keep the most sensitive layers in FP32 until the loss is at most <see cref="MaxLoss"/>.</summary>
    public bool AutoExclude { get; init; }
    /// <summary>Largest accepted loss in points: top-1 accuracy with a labelled evaluation set, else disagreement with FP32.</summary>
    public double MaxLoss { get; init; } = 0.3;
    public int MaxAutoExclusions { get; init; } = 8;
    public ImageSet? Evaluation { get; init; }
    /// <summary>Evaluation images to use (0 = all).</summary>
    public int EvaluationSamples { get; init; }
    /// <summary>Calibration images on which per-layer error is measured.</summary>
    public int ErrorSamples { get; init; } = 32;
    public int Threads { get; init; }
    public bool MeasureLatency { get; init; } = true;
    /// <summary>Also keep the graph ONNX Runtime runs after its optimisations here (for inspection).</summary>
    public string? OptimizedModelPath { get; init; }
}
