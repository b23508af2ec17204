using Microsoft.Data.Sqlite;

namespace Edge.Daemon.Storage;

/// <summary>The store cannot take writes now (disk full, read-only, gone); the rows are kept in memory and retried.</summary>
public sealed class StoreUnavailableException(string message, Exception? inner) : Exception(message, inner);
