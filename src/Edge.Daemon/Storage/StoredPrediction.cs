using Microsoft.Data.Sqlite;

namespace Edge.Daemon.Storage;

/// <summary>One class of a stored result.</summary>
public readonly record struct StoredPrediction(string Label, int Index, float Score);
