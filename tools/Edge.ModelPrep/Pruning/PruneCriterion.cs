namespace Edge.ModelPrep.Pruning;

/// <summary>How a channel's importance is measured.</summary>
public enum PruneCriterion
{
    /// <summary>Sum of |w| over every weight that writes or reads the channel (all members of its group).</summary>
    L1,
    /// <summary>Euclidean norm over every weight that writes or reads the channel.</summary>
    L2,
    /// <summary>|γ| of the BatchNorms that write the channel (Network Slimming); L1 where a group has none (squeeze-excite, linear layers).</summary>
    BatchNorm,
}

/// <summary>Whether channels compete across the whole network or every group loses the same share.</summary>
public enum PruneScope
{
    Global,
    Layer,
}
