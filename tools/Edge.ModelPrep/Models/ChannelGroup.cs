namespace Edge.ModelPrep.Models;

/// <summary>
/// Channels that must keep the same count and order wherever they meet: every layer that writes them
/// (a convolution's filters and its BatchNorm, a depthwise convolution, the layers before a residual add)
/// and every layer that reads them. Structured pruning removes channels from a whole group at once.
/// A group with <see cref="Index"/> -1 is fixed (the image's channels, the classes).
/// </summary>
public sealed record ChannelGroup(int Index, string Name, int Full, int Count)
{
    public static ChannelGroup Fixed(int count) => new(-1, "fixed", count, count);

    public bool Prunable => Index >= 0;

    /// <summary>
    /// The inner channels of a residual branch whose block has an identity shortcut: pruned to 0 channels, the branch
    /// goes and the block becomes its shortcut (depth pruning: whole layers gone, not only narrower ones).
    /// </summary>
    public bool Removable { get; init; }

    /// <summary>Pruned to nothing: its block is its shortcut.</summary>
    public bool Dropped => Removable && Count == 0;
}

/// <summary>
/// Hands out a network's channel groups while it is built, in construction order, each with the count
/// <see cref="ArchSpec.Plan"/> gives it (full width without a plan). The order is the plan's order.
/// </summary>
public sealed class ChannelGroups
{
    private readonly int[]? _plan;
    private readonly List<ChannelGroup> _groups = [];
    private readonly ArchSpec _spec;

    public ChannelGroups(ArchSpec spec)
    {
        _spec = spec;
        _plan = spec.PlanCounts();
    }

    /// <param name="removable">Whether the plan may give it 0 channels (<see cref="ChannelGroup.Removable"/>).</param>
    public ChannelGroup Add(string name, int full, bool removable = false)
    {
        var index = _groups.Count;
        var count = full;
        // A plan too short is said by Complete, with both counts; the groups it misses are built full meanwhile.
        if (_plan is not null && index < _plan.Length)
        {
            count = _plan[index];
            var least = removable ? 0 : 1;
            if (count < least || count > full) throw PlanError($"group {index} ({name}) has {full} channels; {count} is not in {least}..{full}");
        }
        var g = new ChannelGroup(index, name, full, count) { Removable = removable };
        _groups.Add(g);
        return g;
    }

    /// <summary>All groups, after checking the plan named exactly one count per group.</summary>
    public IReadOnlyList<ChannelGroup> Complete()
    {
        if (_plan is not null && _plan.Length != _groups.Count)
            throw PlanError($"it has {_plan.Length} counts but the network has {_groups.Count} channel groups");
        return _groups;
    }

    private Cli.CliError PlanError(string why) => new($"channel plan of {_spec.Arch}-{_spec.Width.ToString(System.Globalization.CultureInfo.InvariantCulture)}: {why}");
}
