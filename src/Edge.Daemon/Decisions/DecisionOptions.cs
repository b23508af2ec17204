namespace Edge.Daemon.Decisions;

/// <summary>
/// How per-frame scores become a state (<c>Decision</c> in edged.json). A result whose best class scores below its
/// threshold, or leads the second by less than <see cref="MinMargin"/>, is <c>unknown</c>. A state changes only after
/// <see cref="Consecutive"/> agreeing results and once the current state has lasted <see cref="MinStateMs"/>; with
/// <see cref="LeaveScore"/> a class state is kept while its own score stays at or above it (hysteresis: enter at
/// the threshold, leave below LeaveScore).
/// </summary>
public sealed record DecisionOptions
{
    /// <summary>Lowest top-1 score that names a class (else <c>unknown</c>); per class in <see cref="Classes"/>.</summary>
    public float MinScore { get; set; }
    /// <summary>Lowest lead of the best class over the second (else <c>unknown</c>).</summary>
    public float MinMargin { get; set; }
    /// <summary>Thresholds of their own for some classes: <c>[{ "Label": "open", "MinScore": 0.8 }]</c>.</summary>
    public ClassThresholdOptions[] Classes { get; set; } = [];
    /// <summary>Agreeing results in a row before the state changes (1 = at once; 3, as Frigate's state classification, by default).</summary>
    public int Consecutive { get; set; } = 3;
    /// <summary>Hysteresis: a class state is kept while its score is at least this (unset = no hysteresis).</summary>
    public float? LeaveScore { get; set; }
    /// <summary>Shortest time in a state before it may change again, in milliseconds.</summary>
    public int MinStateMs { get; set; }
    /// <summary>State changes kept in the results database (oldest beyond are deleted, and with them undelivered webhooks).</summary>
    public int MaxEvents { get; set; } = 10_000;
}

public sealed record ClassThresholdOptions
{
    public string Label { get; set; } = "";
    public float MinScore { get; set; }
}
