using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Training;

/// <summary>What the probe steps measured: memory in use before them, a step's fixed part, and what one more image adds.</summary>
public readonly record struct MemoryProbe(double BaseMib, double FixedMib, double PerImageMib);
