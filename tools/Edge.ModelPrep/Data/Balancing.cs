using System.Diagnostics;
using System.Threading.Channels;

namespace Edge.ModelPrep.Data;

/// <summary>How training batches are drawn from an imbalanced set.</summary>
public enum Balancing { None, Sampler, Weights }
