using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Cli;
using Edge.Daemon.Capture;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Clips;

/// <summary>One frame of a saved clip: where its JPEG starts in the .mjpeg file, how long it is, its capture sequence and time.</summary>
public sealed record ClipFrame(long Sequence, DateTimeOffset Time, long Offset, int Length);

/// <summary>The index saved beside a clip (<c>NAME.json</c>).</summary>
public sealed record ClipIndex(string Camera, string Region, DateTimeOffset EventTime, double PreSeconds, double PostSeconds, IReadOnlyList<ClipFrame> Frames);

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata, PropertyNamingPolicy = JsonNaming.Policy, WriteIndented = true)]
[JsonSerializable(typeof(ClipIndex))]
internal sealed partial class ClipJson : JsonSerializerContext;

/// <summary>
/// Keeps the last frames of a camera in a ring of fixed memory (every captured frame, dropped ones included: copied in on
/// the capture thread, no allocation per frame; while a clip records, its frames are copied for it too) and, on a state
/// change, saves the frames from PreSeconds before it to
/// PostSeconds after it as <c>NAME.mjpeg</c> plus <c>NAME.json</c> (sequence, time, offset of each frame). One clip is
/// recorded at a time; a change during it is linked to the same clip. Clips are written off the frame path; the oldest
/// are deleted to stay within MaxClips and above MinFreeMb. Failures are counted and said once.
/// </summary>
public sealed partial class ClipRecorder : IAsyncDisposable
{
    [System.Text.RegularExpressions.GeneratedRegex(@"\A\d{8}-\d{6}\.\d{3}_[A-Za-z0-9_-]{1,32}_[A-Za-z0-9_-]{1,32}\.(mjpeg|json)\z")]
    private static partial System.Text.RegularExpressions.Regex OwnName();

    private readonly ClipOptions _options;
    private readonly string _camera;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly byte[] _ring;
    private readonly (long Offset, int Length, long Sequence, long Ticks)[] _entries;
    private int _head, _count; // oldest entry, entries held
    private long _writeAt;      // where the next frame's bytes go (offset into the ring, wrapping)
    private readonly Lifecycle.SaidOnce _said = new();
    private Recording? _recording;
    private Task _writing = Task.CompletedTask;
    private long _saved, _failed;

    private sealed class Recording(string name, string region, DateTimeOffset eventTime, DateTimeOffset until)
    {
        public readonly string Name = name, Region = region;
        public readonly DateTimeOffset EventTime = eventTime, Until = until;
        /// <summary>Each frame's bytes, copied (only while a clip records).</summary>
        public readonly List<(long Sequence, DateTimeOffset Time, byte[] Buffer, int Length)> Frames = [];
        /// <summary>The JPEGs' bytes: at most the ring's size (BufferMb), the most one clip may hold.</summary>
        public long Bytes;

        public void Add(long sequence, DateTimeOffset time, ReadOnlySpan<byte> jpeg, long limit)
        {
            if (Bytes + jpeg.Length > limit) return;
            Frames.Add((sequence, time, jpeg.ToArray(), jpeg.Length));
            Bytes += jpeg.Length;
        }
    }

    /// <summary>Frames kept in the ring at most, whatever their size (a tiny-frame stream must not need a huge index).</summary>
    public const int MaxRingFrames = 4096;

    /// <summary>The clip folder as the recorders of every camera share it (one count of clips for MaxClips).</summary>
    public static Storage.OwnedFolder FolderFor(ClipOptions options) => new(options.Folder!, "*.mjpeg", OwnName());

    /// <param name="folder">The folder shared with the other cameras' recorders (<see cref="FolderFor"/>); its own when null.</param>
    public ClipRecorder(ClipOptions options, string camera, ILogger logger, TimeProvider? clock = null, Storage.OwnedFolder? folder = null)
    {
        _options = options;
        _camera = camera;
        _logger = logger;
        _clock = clock ?? TimeProvider.System;
        _folder = folder ?? FolderFor(options);
        _ring = GC.AllocateUninitializedArray<byte>(options.BufferMb * 1024 * 1024);
        _entries = new (long, int, long, long)[MaxRingFrames];
    }

    private readonly Storage.OwnedFolder _folder;
    private readonly TimeProvider _clock;
    /// <summary>The recording's timer (one per recording, so a late callback of an earlier one cannot end a later one).</summary>
    private ITimer? _due;

    /// <summary>How long after PostSeconds a clip waits for a frame before it is saved with what it has.</summary>
    public static readonly TimeSpan FinishGrace = TimeSpan.FromSeconds(1);

    public string Folder => _folder.Path;
    public long Saved => Interlocked.Read(ref _saved);
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Takes a captured frame into the ring (and into the clip being recorded). Capture thread; no allocation unless recording.</summary>
    public void Add(Frame frame)
    {
        var data = frame.Data;
        lock (_gate)
        {
            if (data.Length <= _ring.Length)
            {
                var start = _writeAt + data.Length > _ring.Length ? 0 : _writeAt;
                // Drop the oldest entries whose bytes the new frame overwrites (and one when the index is full).
                while (_count > 0 && (_count == _entries.Length || Overlaps(_entries[_head], start, data.Length)))
                {
                    _head = (_head + 1) % _entries.Length;
                    _count--;
                }
                data.CopyTo(_ring.AsSpan((int)start));
                _entries[(_head + _count) % _entries.Length] = (start, data.Length, frame.Sequence, frame.Time.UtcTicks);
                _count++;
                _writeAt = start + data.Length;
            }
            if (_recording is { } r)
            {
                if (frame.Time > r.Until) Finish();
                else r.Add(frame.Sequence, frame.Time, data, _ring.Length);
            }
        }
    }

    private static bool Overlaps((long Offset, int Length, long, long) e, long start, int length) =>
        e.Offset < start + length && start < e.Offset + e.Length;

    /// <summary>
    /// A state change of <paramref name="region"/> at <paramref name="time"/> (the frame's capture time): starts a clip
    /// with the ring's frames from PreSeconds before, or joins the one being recorded. Returns the clip's name (its files
    /// appear once PostSeconds have passed).
    /// </summary>
    public string Begin(string region, DateTimeOffset time)
    {
        lock (_gate)
        {
            if (_recording is { } active) return active.Name;
            var name = time.UtcDateTime.ToString("yyyyMMdd-HHmmss.fff", CultureInfo.InvariantCulture) + "_" + _camera + "_" + region;
            var r = new Recording(name, region, time, time.AddSeconds(_options.PostSeconds));
            var from = time.AddSeconds(-_options.PreSeconds).UtcTicks;
            for (var i = 0; i < _count; i++)
            {
                var e = _entries[(_head + i) % _entries.Length];
                if (e.Ticks < from) continue;
                r.Add(e.Sequence, new DateTimeOffset(e.Ticks, TimeSpan.Zero), _ring.AsSpan((int)e.Offset, e.Length), _ring.Length);
            }
            _recording = r;
            // Frame times are capture times, on the same clock as this one.
            // A clip ends on the first frame after PostSeconds, or by this timer when no frame comes (the camera went
            // away): PostSeconds and a grace from now on the clock's monotonic time, whatever the wall clock does meanwhile.
            _due?.Dispose();
            _due = _clock.CreateTimer(static s => { var (recorder, recording) = ((ClipRecorder, Recording))s!; recorder.FinishIfStill(recording); },
                (this, r), TimeSpan.FromSeconds(_options.PostSeconds) + FinishGrace, Timeout.InfiniteTimeSpan);
            return name;
        }
    }

    /// <summary>Hands the finished clip to the writer (under the lock).</summary>
    private void Finish()
    {
        var r = _recording!;
        _recording = null;
        _due?.Dispose();
        _due = null;
        var previous = _writing;
        _writing = Task.Run(async () =>
        {
            await previous.ConfigureAwait(false);
            Write(r);
        });
    }

    private void Write(Recording r)
    {
        try
        {
            Directory.CreateDirectory(Folder);
            Prune(r.Bytes);
            var frames = new List<ClipFrame>(r.Frames.Count);
            long offset = 0;
            foreach (var (sequence, time, _, length) in r.Frames)
            {
                frames.Add(new ClipFrame(sequence, time, offset, length));
                offset += length;
            }
            // The index last: a clip is listed once both files are complete.
            Onnx.IO.AtomicFile.Write(Path.Combine(Folder, r.Name + ".mjpeg"), s => { foreach (var f in r.Frames) s.Write(f.Buffer, 0, f.Length); });
            _folder.Added(r.Name + ".mjpeg"); // counted once on disk, even if its index cannot be written
            Onnx.IO.AtomicFile.Write(Path.Combine(Folder, r.Name + ".json"),
                JsonSerializer.SerializeToUtf8Bytes(new ClipIndex(_camera, r.Region, r.EventTime, _options.PreSeconds, _options.PostSeconds, frames), ClipJson.Default.ClipIndex));
            Interlocked.Increment(ref _saved);
            _said.Reset();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref _failed);
            if (_said.First($"{e.GetType().Name}:{e.HResult}"))
                _logger.LogError("Clip to {Folder} failed: {Reason} (counted; said once per kind)", Folder, e.Message);
        }
    }

    /// <summary>The timer's end of <paramref name="r"/>: PostSeconds and the grace have passed and no frame came to end it.</summary>
    private void FinishIfStill(Recording r)
    {
        lock (_gate)
            if (ReferenceEquals(_recording, r)) Finish();
    }

    /// <summary>Deletes the oldest clips (each with its index) until one more fits within the count and free-space limits.</summary>
    private void Prune(long incoming) => _folder.Prune(_options.MaxClips, _options.MinFreeMb * 1024L * 1024, incoming, f =>
    {
        f.Delete();
        // The clip is gone; an index that cannot be deleted must not keep it counted (and block every later prune).
        try { File.Delete(Path.ChangeExtension(f.FullName, ".json")); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (_said.First("index:" + e.GetType().Name)) _logger.LogWarning("Clip index {Name} cannot be deleted: {Reason}", Path.ChangeExtension(f.Name, ".json"), e.Message);
        }
    });

    /// <summary>The path of a clip file (<c>NAME.mjpeg</c> or <c>NAME.json</c>) for the API, or null: only names this recorder gives, only regular files.</summary>
    public string? PathOf(string file) => _folder.PathOf(file);

    /// <summary>Saves the clip being recorded as it is (edged stopping) and waits for the writes.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
            if (_recording is not null) Finish();
        ITimer? due;
        lock (_gate) (due, _due) = (_due, null);
        if (due is not null) await due.DisposeAsync().ConfigureAwait(false);
        await _writing.ConfigureAwait(false);
    }
}
