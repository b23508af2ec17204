using System.Text.RegularExpressions;

namespace Edge.Daemon.Storage;

/// <summary>
/// A folder edged writes files into (snapshots, clips) and shares with whatever else is there: it serves and deletes
/// only files whose names it gives (<paramref name="ownName"/>; names start with a timestamp, so they sort oldest
/// first), and serves only regular files, never through a link.
/// </summary>
internal sealed class OwnedFolder(string folder, string pattern, Regex ownName)
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
    /// </summary>
    public void Prune(int maxFiles, long minFreeBytes, long incoming, Action<FileInfo> delete)
    {
        var files = new DirectoryInfo(Path).GetFiles(pattern).Where(f => ownName.IsMatch(f.Name)).OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
        var i = 0;
        while (files.Count - i >= maxFiles && i < files.Count) delete(files[i++]);
        while (new DriveInfo(Path).AvailableFreeSpace - incoming < minFreeBytes && i < files.Count) delete(files[i++]);
    }
}
