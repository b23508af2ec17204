using System.Text.RegularExpressions;

namespace Edge.Daemon.Storage;

/// <summary>
/// A folder edged writes files into (snapshots, clips) and shares with whatever else is there: it serves and deletes
/// only files whose names it gives (<paramref name="ownName"/>; names start with a timestamp, so they sort oldest
/// first), and serves only regular files, never through a link. Writers sharing a folder share one instance (its count).
/// </summary>
public sealed class OwnedFolder(string folder, string pattern, Regex ownName)
{
    public string Path { get; } = System.IO.Path.GetFullPath(folder);

    /// <summary>The path of <paramref name="name"/> for the API, or null: only an own name (no separators), only a regular file that is not a link.</summary>
    public string? PathOf(string name)
    {
        if (!ownName.IsMatch(name)) return null;
        var path = System.IO.Path.Combine(Path, name);
        // Not a link: one planted in the folder must not serve a file edged can read (its config, the database).
        return new FileInfo(path) is { Exists: true, LinkTarget: null } && Onnx.IO.BoundedFile.Probe(path) is { IsRegular: true } ? path : null;
    }

    /// <summary>
    /// Deletes the oldest own files (each with <paramref name="delete"/>, which may take companions with it) until one more
    /// of <paramref name="incoming"/> bytes fits within <paramref name="maxFiles"/> and above <paramref name="minFreeBytes"/> free.
    /// The own files are listed once and then kept in memory as they are saved (<see cref="Added"/>) and deleted: a save
    /// does not read a folder that may hold many other files. They are listed again every <see cref="RelistEvery"/> prunes,
    /// which finds files deleted or brought back by someone else.
    /// </summary>
    public void Prune(int maxFiles, long minFreeBytes, long incoming, Action<FileInfo> delete)
    {
        lock (_gate)
        {
            if (_own is null || ++_prunes >= RelistEvery)
            {
                _own = new SortedSet<string>(new DirectoryInfo(Path).GetFiles(pattern).Select(f => f.Name).Where(n => ownName.IsMatch(n)), StringComparer.Ordinal);
                _prunes = 0;
            }
            while (_own.Count > 0 && (_own.Count >= maxFiles || new DriveInfo(Path).AvailableFreeSpace - incoming < minFreeBytes))
            {
                var oldest = _own.Min!;
                // Forgotten only once deleted: a delete that fails leaves it counted (and the failure to the caller).
                delete(new FileInfo(System.IO.Path.Combine(Path, oldest)));
                _own.Remove(oldest);
            }
        }
    }

    /// <summary>Takes note of a file just saved under an own name (the next prune counts it without listing the folder).</summary>
    public void Added(string name)
    {
        lock (_gate)
            if (ownName.IsMatch(name)) _own?.Add(name);
    }

    /// <summary>Prunes between listings of the folder.</summary>
    public const int RelistEvery = 1000;

    private readonly Lock _gate = new();
    private SortedSet<string>? _own;
    private int _prunes;
}
