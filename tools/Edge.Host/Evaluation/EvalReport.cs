namespace Edge.Host.Evaluation;

public sealed record ClassMetrics(string Label, int Support, double Precision, double Recall, double F1);

public sealed record LatencyFigures(int Threads, double P50Ms, double P90Ms, int Runs);

/// <summary>Everything <c>edge-prep eval</c> measures; written as metrics.json.</summary>
public sealed record EvalReport
{
    public required string Model { get; init; }
    public required string Kind { get; init; }
    public string? Architecture { get; init; }
    public required string Data { get; init; }
    public required int Images { get; init; }
    public int Skipped { get; init; }
    public required double Top1 { get; init; }
    public required double Top5 { get; init; }
    public required double MacroF1 { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public required IReadOnlyList<ClassMetrics> PerClass { get; init; }
    /// <summary>confusion[true][predicted].</summary>
    public required int[][] Confusion { get; init; }
    public LatencyFigures? Latency { get; init; }
    public long? Macs { get; init; }
}
