using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Training;

/// <summary>What a training run will take in memory, and what there is.</summary>
public sealed record MemoryPlan(int BatchSize, double EstimateMib, double LimitMib);
