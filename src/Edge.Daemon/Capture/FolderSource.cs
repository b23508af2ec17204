using Edge.Core.Imaging;
using Edge.Onnx.IO;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Daemon.Capture;

/// <summary>
/// Image files as frames, in name order, at most <c>Fps</c> per second: a folder played once, looped,
/// or watched for new files (a camera that drops snapshots into a directory). A single file path plays
/// that image. Files come from outside: only regular files are read (a FIFO or a link to a device is
/// skipped and said once), each within a size limit; a file still being written is read only after its
/// size and time have stayed the same for <c>Stable</c>, and is read again if it changes afterwards.
/// </summary>
public sealed class FolderSource(string path, FolderSourceOptions options, FolderCursor? cursor = null, ILogger? logger = null, TimeProvider? clock = null) : IFrameSource
{
    private readonly FolderCursor _cursor = cursor ?? new FolderCursor();
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Lifecycle.SaidOnce _said = new();
    private readonly Queue<string> _pending = new();
    private readonly List<string> _listing = [];
    private long _sequence;
    private long _nextAt;
    private bool _refilled, _deliveredSinceRefill;
    private TimeSpan _pollDelay = options.PollInterval;
    private byte[] _buffer = new byte[256 * 1024]; // reused: a looped or watched folder reads a file per frame

    public FolderSource(string path, bool loop, double fps) : this(path, new FolderSourceOptions { Loop = loop, Fps = fps, ProcessExisting = true }) { }

    public string Description => File.Exists(path) ? $"image: {path}" : options.Loop ? $"folder (looped): {path}" : $"folder (watched): {path}";

    /// <summary>A watched folder may rightly be quiet for hours; a looped one delivers at its own pace.</summary>
    public bool IsLive => false;

    /// <summary>Files skipped because they could not be read (not regular, too large, gone, unreadable).</summary>
    public long Skipped { get; private set; }

    public ValueTask OpenAsync(CancellationToken ct)
    {
        if (!Directory.Exists(path) && !File.Exists(path)) throw new DirectoryNotFoundException($"'{path}' does not exist");
        _pending.Clear();
        return ValueTask.CompletedTask;
    }

    public async ValueTask<Frame?> ReadAsync(CancellationToken ct)
    {
        var single = File.Exists(path);
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (_pending.Count == 0)
            {
                // A pass that delivered nothing (an empty folder, files that all fail) waits before the next.
                if (_refilled && !_deliveredSinceRefill) await Task.Delay(_pollDelay, _clock, ct).ConfigureAwait(false);
                if (single)
                {
                    if (_sequence > 0 && !options.Loop) return null;
                    _pending.Enqueue(path);
                }
                else if (options.Loop) ListLooped();
                else ScanWatched();
                _refilled = true;
                _deliveredSinceRefill = false;
            }
            if (!_pending.TryDequeue(out var file)) continue;
            await PaceAsync(ct).ConfigureAwait(false);
            int length;
            try
            {
                length = BoundedFile.ReadInto(file, options.MaxFileBytes, ref _buffer);
            }
            catch (IOException e)
            {
                // Gone, not a regular file, too large, unreadable: skip it and go on.
                Skipped++;
                if (_said.First(e.Message)) _logger.LogWarning("Folder source skips {Reason}", e.Message);
                continue;
            }
            if (length == 0) { Skipped++; continue; }
            _deliveredSinceRefill = true;
            return Frame.Copy(_buffer.AsSpan(0, length), ++_sequence, DateTimeOffset.UtcNow);
        }
    }

    /// <summary>
    /// Subfolders are searched as <c>edged classify</c> searches them (a camera writing into dated folders), skipping hidden
    /// ones (a half-uploaded <c>.tmp</c> folder) and unreadable ones, at most <see cref="MaxDepth"/> deep (a bound on
    /// links that loop).
    /// </summary>
    private static readonly EnumerationOptions Search = new() { RecurseSubdirectories = true, IgnoreInaccessible = true, MaxRecursionDepth = MaxDepth };

    /// <summary>How deep subfolders are searched.</summary>
    public const int MaxDepth = 16;

    private IEnumerable<string> ImageFiles() =>
        Directory.Exists(path)
            ? Directory.EnumerateFiles(path, "*", Search).Where(Edge.Core.Imaging.ImageFiles.IsImage)
            : throw new DirectoryNotFoundException($"'{path}' has gone");

    private void ListLooped()
    {
        _listing.Clear();
        _listing.AddRange(ImageFiles().Take(FolderCursor.MaxTracked));
        _listing.Sort(StringComparer.Ordinal);
        foreach (var f in _listing) _pending.Enqueue(f);
    }

    private void ScanWatched()
    {
        var started = _clock.GetTimestamp();
        var now = started;
        var files = _cursor.Files;
        var present = new HashSet<string>(StringComparer.Ordinal);
        var ready = new List<string>();
        var complete = true;
        if (!_cursor.Primed) _cursor.PrimedAtMtime = _clock.GetUtcNow().ToUnixTimeMilliseconds() * TimeSpan.TicksPerMillisecond; // as Probe's, from 1970
        foreach (var f in ImageFiles())
        {
            if (present.Count >= FolderCursor.MaxTracked)
            {
                complete = false;
                _cursor.Overflowed = true;
                if (_said.First("too many files")) _logger.LogWarning("Folder source {Path}: more than {Max} images; only that many are watched at a time", path, FolderCursor.MaxTracked);
                break;
            }
            if (BoundedFile.Probe(f) is not { } probe) continue; // gone since the listing
            present.Add(f);
            if (!probe.IsRegular)
            {
                if (_said.First(f)) _logger.LogWarning("Folder source skips '{File}': it is {Type}, not a regular file", f, probe.Type);
                continue;
            }
            if (!files.TryGetValue(f, out var entry))
            {
                // What is already there at the first listing counts as delivered unless asked otherwise; once
                // listings are partial (an overfull folder), so does anything older than that first listing.
                var old = !options.ProcessExisting && (!_cursor.Primed || (_cursor.Overflowed && probe.MtimeTicks < _cursor.PrimedAtMtime));
                files[f] = new FolderCursor.Entry { Size = probe.Size, Mtime = probe.MtimeTicks, ChangedAt = now, Delivered = old };
                continue;
            }
            if (entry.Size != probe.Size || entry.Mtime != probe.MtimeTicks)
            {
                (entry.Size, entry.Mtime, entry.ChangedAt, entry.Delivered) = (probe.Size, probe.MtimeTicks, now, false);
                continue;
            }
            if (!entry.Delivered && entry.Size > 0 && _clock.GetElapsedTime(entry.ChangedAt, now) >= options.Stable)
            {
                entry.Delivered = true;
                ready.Add(f);
            }
        }
        _cursor.Primed = true;
        // Forget files that went away (only when the listing was whole), so the cursor stays as large as the folder.
        if (complete && files.Count > present.Count)
            foreach (var gone in files.Keys.Where(k => !present.Contains(k)).ToList()) files.Remove(gone);
        ready.Sort(StringComparer.Ordinal);
        foreach (var f in ready) _pending.Enqueue(f);
        // A large folder is listed less often: listing never takes more than a tenth of the time.
        var took = _clock.GetElapsedTime(started);
        _pollDelay = TimeSpan.FromTicks(Math.Max(options.PollInterval.Ticks, took.Ticks * 10));
    }

    private async ValueTask PaceAsync(CancellationToken ct)
    {
        if (options.Fps <= 0) return;
        var now = _clock.GetTimestamp();
        var interval = (long)(_clock.TimestampFrequency / Math.Max(options.Fps, 0.001));
        if (_nextAt > now) await Task.Delay(_clock.GetElapsedTime(now, _nextAt), _clock, ct).ConfigureAwait(false);
        _nextAt = Math.Max(now, _nextAt) + interval;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
