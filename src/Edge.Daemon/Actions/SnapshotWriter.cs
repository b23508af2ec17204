using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Actions;

/// <summary>
/// Saves the frame that produced a matching result as a JPEG (the camera's own bytes: no re-encode)
/// under <c>folder/yyyyMMdd-HHmmss.fff_label.jpg</c>, and keeps the folder within a file count and
/// above a free-space floor by deleting the oldest snapshots. A full disk pauses snapshots and says
/// so once.
/// </summary>
public sealed class SnapshotWriter(string folder, int maxFiles, long minFreeBytes, ILogger logger, string? label = null, float minScore = 0)
{
    private string? _failure;

    public string Folder { get; } = Path.GetFullPath(folder);
    public long Written { get; private set; }
    public long Failed { get; private set; }

    /// <summary>Saves the frame when the result's best class matches; returns the path, or null.</summary>
    public string? Save(ReadOnlySpan<byte> jpeg, DateTimeOffset time, string topLabel, float topScore)
    {
        if (label is not null && (topLabel != label || topScore < minScore)) return null;
        var name = time.UtcDateTime.ToString("yyyyMMdd-HHmmss.fff", CultureInfo.InvariantCulture) + "_" + Safe(topLabel) + ".jpg";
        var path = Path.Combine(Folder, name);
        try
        {
            Directory.CreateDirectory(Folder);
            Prune(jpeg.Length);
            using (var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None))
                f.Write(jpeg);
            Written++;
            if (_failure is not null)
            {
                logger.LogInformation("Snapshots to {Folder} work again", Folder);
                _failure = null;
            }
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Failed++;
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (_failure != e.Message)
            {
                logger.LogError("Snapshot to {Folder} failed: {Reason}; snapshots paused until it works again", Folder, e.Message);
                _failure = e.Message;
            }
            return null;
        }
    }

    /// <summary>Deletes the oldest snapshots until one more fits within the count and free-space limits.</summary>
    private void Prune(int incoming)
    {
        var files = new DirectoryInfo(Folder).GetFiles("*.jpg").OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
        var i = 0;
        while (files.Count - i >= maxFiles && i < files.Count) files[i++].Delete();
        var drive = new DriveInfo(Folder);
        while (drive.AvailableFreeSpace - incoming < minFreeBytes && i < files.Count)
        {
            files[i++].Delete();
            drive = new DriveInfo(Folder);
        }
    }

    private static string Safe(string s) => new([.. s.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_')]);
}
