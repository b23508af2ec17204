using Edge.Cli;
using Edge.Daemon.Interop;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Storage;

/// <summary>
/// One daemon per results store: <c>edged run</c> holds an exclusive lock on <c>STORE.lock</c> while it runs,
/// and a second daemon given the same store is refused at start instead of interleaving its results (and its
/// retention deletes) with the first one's.
/// </summary>
internal static class StoreLock
{
    /// <summary>
    /// The held lock, or null when the store's folder cannot hold a lock file (read-only, no permission): then
    /// the store cannot be written either, and the daemon runs without recording as it would anyway.
    /// </summary>
    public static IDisposable? Acquire(string storePath, ILogger logger)
    {
        // The lock belongs to the file SQLite will open: through a symbolic link, to its target (a second daemon
        // given a link to the first one's store is refused too).
        var full = Path.GetFullPath(storePath);
        try
        {
            if (new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target) full = target.FullName;
        }
        catch (IOException) { } // a link loop or an unreadable link: SQLite will fail on it and say so
        var path = full + ".lock";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Store:Path: cannot create the folder of '{Path}' to lock it: {Reason}", storePath, e.Message);
            return null;
        }
        switch (ExclusiveFileLock.TryAcquire(path, out var held, out var detail))
        {
            case ExclusiveFileLock.Outcome.Acquired:
                return held;
            case ExclusiveFileLock.Outcome.HeldByAnother:
                throw new CliError($"Store:Path: '{storePath}' is in use by another edged{(detail.Length > 0 ? $" (pid {detail})" : "")}; " +
                    "stop it, or give this one its own Store:Path (and Http:Url)");
            default:
                logger.LogWarning("Store:Path: cannot lock '{Path}': {Reason}", path, detail);
                return null;
        }
    }
}
