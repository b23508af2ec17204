namespace Edge.Daemon.Capture;

/// <summary>
/// Image files as frames, in name order, at most <c>fps</c> per second: a folder played once,
/// looped, or watched for new files (a camera that drops snapshots into a directory). A single
/// file path plays that image.
/// </summary>
public sealed class FolderSource(string path, bool loop, double fps) : IFrameSource
{
    private static readonly HashSet<string> Extensions = new([".jpg", ".jpeg", ".png", ".bmp", ".webp"], StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _seen = [];
    private readonly Queue<string> _pending = new();
    private long _sequence;
    private long _nextAt;
    private byte[] _buffer = new byte[256 * 1024]; // reused: a looped or watched folder reads a file per frame

    public string Description => File.Exists(path) ? $"image: {path}" : loop ? $"folder (looped): {path}" : $"folder (watched): {path}";

    public ValueTask OpenAsync(CancellationToken ct)
    {
        if (!Directory.Exists(path) && !File.Exists(path)) throw new DirectoryNotFoundException($"'{path}' does not exist");
        _seen.Clear();
        _pending.Clear();
        return ValueTask.CompletedTask;
    }

    public async ValueTask<Frame?> ReadAsync(CancellationToken ct)
    {
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (_pending.Count == 0) Scan();
            if (_pending.TryDequeue(out var file))
            {
                await PaceAsync(ct).ConfigureAwait(false);
                int length;
                try { length = ReadFile(file); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; } // removed or still being written: skip
                return Frame.Copy(_buffer.AsSpan(0, length), ++_sequence, DateTimeOffset.UtcNow);
            }
            if (File.Exists(path) && !loop) return null;
            if (loop && _seen.Count > 0) { _seen.Clear(); continue; }
            // Watching: wait for new files.
            await Task.Delay(200, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Reads a whole (local, small) file into the reused buffer, growing it when needed.</summary>
    private int ReadFile(string file)
    {
        using var handle = File.OpenHandle(file);
        var size = RandomAccess.GetLength(handle);
        if (size > 256L << 20) throw new IOException($"'{file}' is over 256 MiB");
        if (size > _buffer.Length) _buffer = new byte[Math.Max(size, _buffer.Length * 2L)];
        var total = 0;
        int n;
        while (total < size && (n = RandomAccess.Read(handle, _buffer.AsSpan(total, (int)size - total), total)) > 0) total += n;
        return total;
    }

    private void Scan()
    {
        IEnumerable<string> files = File.Exists(path) ? [path]
            : Directory.Exists(path) ? Directory.EnumerateFiles(path).Where(f => Extensions.Contains(Path.GetExtension(f))).Order(StringComparer.Ordinal)
            : throw new DirectoryNotFoundException($"'{path}' has gone");
        foreach (var f in files)
            if (_seen.Add(f)) _pending.Enqueue(f);
    }

    private async ValueTask PaceAsync(CancellationToken ct)
    {
        if (fps <= 0) return;
        var now = Environment.TickCount64;
        if (_nextAt > now) await Task.Delay(TimeSpan.FromMilliseconds(_nextAt - now), ct).ConfigureAwait(false);
        _nextAt = Math.Max(now, _nextAt) + (long)(1000 / fps);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
