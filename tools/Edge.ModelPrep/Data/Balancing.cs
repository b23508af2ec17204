
namespace Edge.ModelPrep.Data;

/// <summary>How training batches are drawn from an imbalanced set.</summary>
public enum Balancing { None, Sampler, Weights }
