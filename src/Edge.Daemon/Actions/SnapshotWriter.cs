using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Actions;

/// <summary>
/// Saves the frame that produced a matching result as a JPEG (the camera's own bytes: no re-encode)
/// under <c>folder/yyyyMMdd-HHmmss.fff_camera_label.jpg</c>, and keeps the folder within a file count and
/// above a free-space floor by deleting the oldest snapshots: only files it named itself, never
/// anything else in the folder. A failure (full disk, read-only folder) pauses snapshots and is said
/// once per kind until snapshots work again. Cameras share one writer: saves take turns.
/// </summary>
public sealed partial class SnapshotWriter(string folder, int maxFiles, long minFreeBytes, ILogger logger, string? label = null, float minScore = 0)
{
    /// <summary>The names this writer gives: a timestamp, then the camera and the label (made safe), then .jpg.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"\A\d{8}-\d{6}\.\d{3}_[A-Za-z0-9_-]{1,100}\.jpg\z")]
    private static partial System.Text.RegularExpressions.Regex OwnName();
    private readonly Lifecycle.SaidOnce _said = new();
    private bool _failing;
    private readonly Lock _gate = new();

    private readonly Storage.OwnedFolder _folder = new(folder, "*.jpg", OwnName());

    public string Folder => _folder.Path;
    private long _written, _failed;
    public long Written => Interlocked.Read(ref _written);
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>
    /// The path of snapshot <paramref name="name"/> for <c>GET /api/snapshots/NAME</c>, or null: only a name this writer
    /// gives (no separators, no dots but the extension) and only a regular file in its folder.
    /// </summary>
    public string? PathOf(string name) => _folder.PathOf(name);

    /// <summary>Saves the frame when the result's best class matches; returns the path, or null.</summary>
    /// <param name="camera">Named in the file (a name edged checked at start), so that cameras' snapshots of one moment differ.</param>
    public string? Save(ReadOnlySpan<byte> jpeg, DateTimeOffset time, string topLabel, float topScore, string? camera = null)
    {
        if (label is not null && (topLabel != label || topScore < minScore)) return null;
        lock (_gate) return SaveLocked(jpeg, time, topLabel, camera);
    }

    private string? SaveLocked(ReadOnlySpan<byte> jpeg, DateTimeOffset time, string topLabel, string? camera)
    {
        var name = time.UtcDateTime.ToString("yyyyMMdd-HHmmss.fff", CultureInfo.InvariantCulture) + "_" + (camera is null ? "" : Safe(camera) + "_") + Safe(topLabel) + ".jpg";
        var path = Path.Combine(Folder, name);
        try
        {
            Directory.CreateDirectory(Folder);
            Prune(jpeg.Length);
            using (var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None))
                f.Write(jpeg);
            _folder.Added(name);
            Interlocked.Increment(ref _written);
            if (_failing)
            {
                logger.LogInformation("Snapshots to {Folder} work again", Folder);
                _failing = false;
                _said.Reset();
            }
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref _failed);
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            _failing = true;
            // Keyed by the kind of failure, not its message (which names a new file each frame).
            if (_said.First($"{e.GetType().Name}:{e.HResult}"))
                logger.LogError("Snapshot to {Folder} failed: {Reason}; snapshots paused until it works again", Folder, e.Message);
            return null;
        }
    }

    /// <summary>Deletes the oldest snapshots until one more fits within the count and free-space limits.</summary>
    private void Prune(int incoming) => _folder.Prune(maxFiles, minFreeBytes, incoming, f => f.Delete());

    /// <summary>A label as a file name part: ASCII letters, digits, '-' and '_' only, at most 64 characters (names have a 255-byte limit).</summary>
    private static string Safe(string s)
    {
        var safe = new string([.. s.Select(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_' ? c : '_')]);
        return safe.Length > 64 ? safe[..64] : safe;
    }
}
