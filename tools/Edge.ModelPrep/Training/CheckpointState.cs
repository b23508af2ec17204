using Edge.ModelPrep.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Training;

/// <summary>What a checkpoint holds besides weights: enough to resume, export or evaluate without the original command line.</summary>
public sealed record CheckpointState
{
    public required ArchSpec Arch { get; init; }
    public required IReadOnlyList<string> Classes { get; init; }
    public required string Color { get; init; }
    public required string Resize { get; init; }
    public required float[] Mean { get; init; }
    public required float[] Std { get; init; }
    public required string Data { get; init; }
    /// <summary>Epochs completed (1-based count).</summary>
    public required int Epoch { get; init; }
    public required int Step { get; init; }
    public double? ValAccuracy { get; init; }
    public double BestValAccuracy { get; init; }
    public int BestEpoch { get; init; }
    public int EpochsWithoutImprovement { get; init; }
}
