namespace Edge.Core.Diagnostics;

/// <summary>
/// How long work says where it is, in every layer and both tools: a named step, and how much of it
/// is done. Producers take an <see cref="IProgress{T}"/> of it; each tool decides how to show it.
/// </summary>
public readonly record struct StepProgress(string Step, long Done, long Total);
