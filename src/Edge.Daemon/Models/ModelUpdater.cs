using System.Diagnostics;
using System.Threading.Channels;
using Edge.Core.Imaging;
using Edge.Core.Inference;
using Edge.Daemon.Storage;
using Edge.Onnx.Metadata;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Models;

/// <summary>What became of one offered model: accepted (swapped in before the next frame), unchanged (it is the one running) or refused.</summary>
public sealed record ModelUpdateOutcome(string Outcome, ModelIdentity? Model, string? Reason)
{
    public const string Accepted = "accepted", Unchanged = "unchanged", Refused = "refused";
}

/// <summary>One model event as the status shows it (the store keeps the same, see <see cref="ModelEventRecord"/>).</summary>
public sealed record ModelEvent(DateTimeOffset Time, string Event, string? Sha256, string Origin, string? Detail);

/// <summary>
/// Takes new models, from a watched folder or <c>POST /api/model</c>, one at a time, and lets only good ones run.
/// A candidate is hashed (and checked against a SHA-256 when one is given or required), kept as a copy of its own
/// in the <see cref="ModelStore"/>, loaded into both sessions (camera and uploads) by the same loader the daemon
/// started with (ONNX checks, signature, memory), and must state its labels and preprocessing, keep the running
/// model's labels (unless allowed otherwise) and classify the bundled samples and the latest camera frame with
/// finite scores. Only then is it offered to the <see cref="ModelSwitch"/>, which swaps it in between frames and
/// rolls it back if it fails on probation. Everything that happens is said in the log, counted, kept in the status
/// and recorded in the results store. Work on a candidate runs off the frame path; camera frames go on meanwhile.
/// </summary>
public sealed class ModelUpdater : IDisposable
{
    /// <summary>Loads a model file into a ready <see cref="LoadedModel"/> (camera and uploads sessions), or throws <see cref="ModelLoadException"/>.</summary>
    public delegate LoadedModel Loader(string path, string sha256, string origin);

    public const int RecentEvents = 20;
    private const int MaxSmokeImages = 8;
    private const long MaxSampleBytes = 16L << 20;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    private readonly ModelUpdateOptions _options;
    private readonly ModelStore _store;
    private readonly ModelSwitch _models;
    private readonly Loader _load;
    private readonly string? _samples;
    private readonly Func<IEnumerable<(string Camera, byte[] Frame)>> _latestFrames;
    private readonly IReadOnlyCollection<string> _ruleLabels;
    private readonly ResultWriter? _results;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly StartModel _configured;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Channel<ModelChange> _changes = Channel.CreateUnbounded<ModelChange>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lifecycle.SaidOnce _said = new();
    private readonly Lifecycle.SaidOnce _watchSaid = new();
    private readonly Lock _recentGate = new();
    private readonly Queue<ModelEvent> _recent = new();
    // Hashes of models this updater offered whose sessions may still be in use: their kept copies must stay.
    private readonly HashSet<string> _live = new(StringComparer.Ordinal);
    // Models that failed here (rolled back, or crashed edged while being checked), refused at once if offered again, until a restart.
    private readonly Dictionary<string, string> _bad = new(StringComparer.Ordinal);
    // Dropped files already handled (name, size, time): one that cannot be moved away is not taken again and again.
    private readonly Dictionary<string, (long Size, long Mtime)> _handled = new(StringComparer.Ordinal);
    private long _accepted, _refused, _rolledBack;
    private int _waiting;

    /// <summary>Candidates waiting or being checked at once; more are told to come back (each holds its bytes).</summary>
    public const int MaxWaiting = 2;
    private const int MaxRemembered = 256;
    /// <summary>Written before a candidate is loaded and removed after: found at start, it names a model that took edged down.</summary>
    public const string CheckingFile = "checking";

    public ModelUpdater(ModelUpdateOptions options, ModelStore store, ModelSwitch models, Loader load, StartModel configured, string? samplesFolder,
        Func<IEnumerable<(string Camera, byte[] Frame)>> latestFrames, IReadOnlyCollection<string> ruleLabels, ResultWriter? results, ILogger logger, string? folder, TimeProvider? clock = null)
    {
        _options = options;
        _store = store;
        _models = models;
        _load = load;
        _configured = configured;
        _samples = samplesFolder;
        _latestFrames = latestFrames;
        _ruleLabels = ruleLabels;
        _results = results;
        _logger = logger;
        Folder = folder is null ? null : Path.GetFullPath(folder);
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>The watched folder, or null when only the API takes models.</summary>
    public string? Folder { get; }
    public long Accepted => Interlocked.Read(ref _accepted);
    public long Refused => Interlocked.Read(ref _refused);
    public long RolledBack => Interlocked.Read(ref _rolledBack);
    public long MaxBytes => _options.MaxMb * 1024L * 1024;

    public IReadOnlyList<ModelEvent> Recent
    {
        get { lock (_recentGate) return [.. _recent]; }
    }

    /// <summary>For the <see cref="ModelSwitch"/>: called on the thread that changed the model; handled off it.</summary>
    public void OnChange(ModelChange change) => _changes.Writer.TryWrite(change);

    /// <summary>Checks a candidate and, when it is good, offers it. One candidate at a time; the others wait their turn.</summary>
    public async Task<ModelUpdateOutcome> SubmitAsync(byte[] bytes, string? expectedSha256, string origin, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await Task.Run(() =>
            {
                try { return Check(bytes, expectedSha256, origin); }
                catch (ObjectDisposedException) { throw; } // stopping: the switch is gone
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    return Refuse(origin, null, $"checking it failed: {e.GetType().Name}: {Classifier.OneLine(e.Message)}");
                }
            }, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Takes one of <see cref="MaxWaiting"/> places for a candidate (before its body is read); false when all are taken.</summary>
    public bool TryReserve()
    {
        while (true)
        {
            var n = Volatile.Read(ref _waiting);
            if (n >= MaxWaiting) return false;
            if (Interlocked.CompareExchange(ref _waiting, n + 1, n) == n) return true;
        }
    }

    public void ReleaseReservation() => Interlocked.Decrement(ref _waiting);

    /// <summary>
    /// At start: a candidate whose check never finished (edged crashed or was killed while loading or testing it) is
    /// recorded as refused and not taken again, so a model that crashes ONNX Runtime cannot put edged in a restart loop.
    /// </summary>
    public void RecoverInterruptedCheck()
    {
        var marker = Path.Combine(_store.Directory, CheckingFile);
        try
        {
            if (!File.Exists(marker)) return;
            var text = System.Text.Encoding.ASCII.GetString(Onnx.IO.BoundedFile.ReadAll(marker, 4096)).Split('\n', 2);
            File.Delete(marker);
            var sha = text[0].Trim();
            var origin = text.Length > 1 ? ModelSettings.Clip(text[1].Trim()) : "unknown";
            if (!ModelStore.IsSha256(sha)) return;
            RememberBad(sha, "edged stopped while checking it (it may have crashed the process)");
            Refuse(origin, sha, "edged stopped while checking it (it may have crashed the process); it is not taken again until a restart");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("Model updates: cannot read '{Marker}': {Reason}", marker, e.Message);
        }
    }

    private void RememberBad(string sha, string why)
    {
        lock (_bad)
        {
            if (_bad.Count >= MaxRemembered) _bad.Remove(_bad.Keys.First());
            _bad[sha] = why;
        }
    }

    private ModelUpdateOutcome Check(byte[] bytes, string? expected, string origin)
    {
        if (bytes.LongLength > MaxBytes)
            return Refuse(origin, null, $"it is {Onnx.IO.BoundedFile.Describe(bytes.LongLength)}, over Model:Updates:MaxMb ({_options.MaxMb} MiB)");
        var sha = ModelIdentity.Hash(bytes);
        if (expected is not null)
        {
            expected = expected.Trim().ToLowerInvariant();
            if (!ModelStore.IsSha256(expected)) return Refuse(origin, sha, "the checksum given is not a SHA-256 (64 hex digits)");
            if (expected != sha) return Refuse(origin, sha, $"its SHA-256 is {sha}, not the {expected} given: the file is damaged or not the one meant");
        }
        else if (_options.RequireChecksum)
            return Refuse(origin, sha, "Model:Updates:RequireChecksum is on and no SHA-256 came with it (NAME.onnx.sha256 beside the file, or ?sha256= on POST /api/model)");
        string? bad;
        lock (_bad) bad = _bad.GetValueOrDefault(sha);
        if (bad is not null) return Refuse(origin, sha, $"this model failed here before ({bad}); restart edged to try it again");
        var state = _models.State;
        if (sha == state.Current.Sha256 && state.Pending is null)
        {
            Record(new ModelEvent(_clock.GetUtcNow(), "unchanged", sha, origin, "it is the model running"));
            return new ModelUpdateOutcome(ModelUpdateOutcome.Unchanged, state.Current, "it is the model running");
        }
        string path;
        try
        {
            path = _store.Keep(sha, bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Refuse(origin, sha, $"cannot keep a copy in '{_store.Directory}': {e.Message}");
        }
        // Said on disk before ONNX Runtime sees the model: if it takes the process down, the next start knows which one did.
        var marker = Path.Combine(_store.Directory, CheckingFile);
        Onnx.IO.AtomicFile.WriteText(marker, sha + "\n" + origin + "\n");
        LoadedModel model;
        string? problem;
        string detail = "";
        try
        {
            try
            {
                model = _load(path, sha, origin);
            }
            catch (ModelLoadException e)
            {
                return Refuse(origin, sha, e.Message.Replace($"'{path}'", "the model", StringComparison.Ordinal));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                return Refuse(origin, sha, $"it does not load: {e.GetType().Name}: {Classifier.OneLine(e.Message)}");
            }
            try
            {
                problem = CheckMetadata(model.Camera) ?? CheckLabels(model.Camera);
                if (problem is null) (problem, detail) = Smoke(model);
            }
            catch
            {
                model.Release();
                throw;
            }
        }
        finally
        {
            try { File.Delete(marker); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        if (problem is not null)
        {
            model.Release();
            return Refuse(origin, sha, problem);
        }
        Interlocked.Increment(ref _accepted);
        var m = model.Camera.Model;
        Record(new ModelEvent(_clock.GetUtcNow(), ModelUpdateOutcome.Accepted, sha, origin,
            $"{m.ClassCount} classes, input {string.Join("x", m.InputShape(1))}, {detail}"));
        _logger.LogInformation("Model update from {Origin} accepted: {Sha} ({Detail}); it runs from the next frame, on probation for {Frames} classifications",
            origin, model.Identity.Short, detail, _models.ProbationFrames);
        lock (_live) _live.Add(sha);
        _models.Offer(model);
        return new ModelUpdateOutcome(ModelUpdateOutcome.Accepted, model.Identity, null);
    }

    private static string? CheckMetadata(Classifier c)
    {
        var missing = c.Model.Defaulted.Where(f => f is "labels" or "scale" or "mean" or "std").ToList();
        return missing.Count == 0 ? null
            : $"its metadata does not state {string.Join(", ", missing)}; an update must carry its own labels and preprocessing (edge-prep writes them; see README, Model metadata)";
    }

    private string? CheckLabels(Classifier c)
    {
        var next = c.Model.Labels;
        var running = _models.Current.Camera.Model.Labels;
        if (!_options.AllowLabelChange && !running.SequenceEqual(next, StringComparer.Ordinal))
        {
            static string List(IEnumerable<string> labels) => string.Join(", ", labels.Take(5).Select(l => $"'{ModelSettings.Clip(l)}'")) + (labels.Count() > 5 ? ", ..." : "");
            var added = next.Except(running, StringComparer.Ordinal).ToList();
            var removed = running.Except(next, StringComparer.Ordinal).ToList();
            var how = added.Count + removed.Count == 0 ? "has the same labels in another order"
                : string.Join(" and ", new[] { added.Count > 0 ? $"adds {List(added)}" : null, removed.Count > 0 ? $"lacks {List(removed)}" : null }.OfType<string>());
            return $"its labels differ from the running model's (it {how}); set Model:Updates:AllowLabelChange=true to accept a model with other classes";
        }
        foreach (var label in _ruleLabels)
            if (!next.Contains(label, StringComparer.Ordinal))
                return $"Actions:Rules names the label '{ModelSettings.Clip(label)}', which it does not have";
        return null;
    }

    /// <summary>Classifies the bundled samples and the latest camera frame: every score finite, in both sessions.</summary>
    private (string? Problem, string Detail) Smoke(LoadedModel model)
    {
        var images = SmokeImages();
        if (images.Count == 0) return ($"there is nothing to test it on: no sample images in '{_samples}' and no camera frame yet", "");
        var tested = 0;
        var times = new List<double>();
        foreach (var (name, bytes) in images)
        {
            foreach (var classifier in model.Uploads is null || ReferenceEquals(model.Uploads, model.Camera) ? [model.Camera] : new[] { model.Camera, model.Uploads })
            {
                try
                {
                    var t0 = Stopwatch.GetTimestamp();
                    classifier.Classify(bytes, 1);
                    if (ReferenceEquals(classifier, model.Camera)) times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
                catch (ImageDecodeException)
                {
                    break; // the image's fault, not the model's
                }
                catch (InferenceException e)
                {
                    return ($"it fails on {name}: {e.Message}", "");
                }
            }
            tested++;
        }
        if (times.Count == 0) return ($"none of the {images.Count} test images decodes for it", "");
        times.Sort();
        return (null, $"{times.Count} test images classified, median {times[times.Count / 2]:0.0} ms");
    }

    private List<(string Name, byte[] Bytes)> SmokeImages()
    {
        var list = new List<(string, byte[])>();
        if (_samples is not null && Directory.Exists(_samples))
        {
            try
            {
                foreach (var file in Directory.EnumerateFiles(_samples).Take(1000).Where(ImageFiles.IsImage).Order(StringComparer.Ordinal).Take(MaxSmokeImages))
                {
                    try { list.Add(($"the sample '{Path.GetFileName(file)}'", Onnx.IO.BoundedFile.ReadAll(file, MaxSampleBytes))); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        // The latest frame of every camera the model would classify: a model that fails only on one camera's frames is refused.
        foreach (var (camera, frame) in _latestFrames()) list.Add(($"the latest frame of camera {camera}", frame));
        return list;
    }

    private ModelUpdateOutcome Refuse(string origin, string? sha, string reason)
    {
        Interlocked.Increment(ref _refused);
        Record(new ModelEvent(_clock.GetUtcNow(), ModelUpdateOutcome.Refused, sha, origin, reason));
        _logger.LogWarning("Model update from {Origin} refused: {Reason}; the running model ({Sha}) goes on", origin, reason, _models.Current.Identity.Short);
        Prune();
        return new ModelUpdateOutcome(ModelUpdateOutcome.Refused, null, reason);
    }

    private void Record(ModelEvent e)
    {
        lock (_recentGate)
        {
            if (_recent.Count == RecentEvents) _recent.Dequeue();
            _recent.Enqueue(e);
        }
        _results?.Add(new ModelEventRecord(e.Time, e.Event, e.Sha256, e.Origin, e.Detail));
    }

    /// <summary>Keeps the copies still needed: running, offered, the one to fall back to, and those remembered.</summary>
    private void Prune()
    {
        var s = _models.State;
        var active = _store.Read(_logger);
        List<string?> keep = [s.Current.Sha256, s.Previous?.Sha256, s.Pending?.Sha256, s.Fallback?.Sha256, active?.Current?.Sha256, active?.Previous?.Sha256];
        lock (_live) keep.AddRange(_live);
        try
        {
            _store.Prune(keep);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (_said.First("prune")) _logger.LogWarning("Model updates: cannot tidy '{Folder}': {Reason}", _store.Directory, e.Message);
        }
    }

    /// <summary>Watches the folder (when there is one) and handles model changes, until <paramref name="ct"/> stops it.</summary>
    public Task RunAsync(CancellationToken ct) => Task.WhenAll(HandleChangesAsync(ct), Folder is null ? Task.CompletedTask : WatchAsync(Folder, ct));

    private async Task HandleChangesAsync(CancellationToken ct)
    {
        try
        {
            while (await _changes.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
                while (_changes.Reader.TryRead(out var c))
                {
                    await _gate.WaitAsync(ct).ConfigureAwait(false);
                    try { HandleSafely(c); }
                    finally { _gate.Release(); }
                }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    /// <summary>
    /// After the pipeline has stopped: the changes it made last (a model proven on the last frames) are recorded, so
    /// that a stop right after a proof does not start the next run on the older model. Waits for a check in progress.
    /// </summary>
    public async Task FlushAsync(TimeSpan timeout)
    {
        if (!await _gate.WaitAsync(timeout).ConfigureAwait(false))
        {
            _logger.LogWarning("Model updates: a model check was still running at stop; the last model changes may not be remembered");
            return;
        }
        try
        {
            while (_changes.Reader.TryRead(out var c)) HandleSafely(c);
        }
        finally { _gate.Release(); }
    }

    private void HandleSafely(ModelChange c)
    {
        try { Handle(c); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogError("Model updates: cannot record the change to {Sha} in '{Folder}': {Reason}", c.Model.Short, _store.Directory, e.Message);
        }
    }

    private void Handle(ModelChange c)
    {
        var now = _clock.GetUtcNow();
        switch (c.Kind)
        {
            case ModelChangeKind.SwappedIn:
                Record(new ModelEvent(now, "swapped-in", c.Model.Sha256, c.Model.Origin, $"replacing {c.Other?.Short}"));
                _logger.LogInformation("Model {Sha} ({Origin}) is classifying; {Other} stays loaded until it has classified {Frames} frames",
                    c.Model.Short, c.Model.Origin, c.Other?.Short, _models.ProbationFrames);
                break;
            case ModelChangeKind.Proven:
                if (c.Other is { } released) lock (_live) _live.Remove(released.Sha256);
                Record(new ModelEvent(now, "proven", c.Model.Sha256, c.Model.Origin, $"{_models.ProbationFrames} classifications on probation"));
                _logger.LogInformation("Model {Sha} passed its probation; it is the model edged starts with from now on", c.Model.Short);
                var before = _store.Read(_logger);
                var previous = c.Other is { } o ? new AcceptedModel(o.Sha256, o.Origin, o.LoadedAt, o.Version) : before?.Current;
                _store.Write(new ActiveModels(_configured.Path, _configured.Sha256, new AcceptedModel(c.Model.Sha256, c.Model.Origin, c.Model.LoadedAt, c.Model.Version),
                    previous));
                Prune();
                break;
            case ModelChangeKind.RolledBack:
                Interlocked.Increment(ref _rolledBack);
                lock (_live) _live.Remove(c.Model.Sha256);
                RememberBad(c.Model.Sha256, $"rolled back: {c.Reason}");
                Record(new ModelEvent(now, "rolled-back", c.Model.Sha256, c.Model.Origin, c.Reason));
                _logger.LogError("Model {Sha} ({Origin}) rolled back: {Reason}; {Other} is classifying again", c.Model.Short, c.Model.Origin, c.Reason, c.Other?.Short);
                Prune();
                break;
            case ModelChangeKind.Superseded:
                lock (_live) _live.Remove(c.Model.Sha256);
                Record(new ModelEvent(now, "superseded", c.Model.Sha256, c.Model.Origin, $"{c.Reason} ({c.Other?.Short})"));
                Prune();
                break;
        }
    }

    private async Task WatchAsync(string folder, CancellationToken ct)
    {
        var seen = new Dictionary<string, (long Size, long Mtime, long Since)>(StringComparer.Ordinal);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                Directory.CreateDirectory(folder);
                await ScanAsync(folder, seen, ct).ConfigureAwait(false);
                _watchSaid.Reset();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (_watchSaid.First(e.Message)) _logger.LogError("Model updates: cannot watch '{Folder}': {Reason} (retrying)", folder, e.Message);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
            try { await Task.Delay(PollInterval, _clock, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>Most files looked at per scan: a folder flooded with files costs bounded work each round.</summary>
    public const int MaxFilesPerScan = 16;

    private async Task ScanAsync(string folder, Dictionary<string, (long Size, long Mtime, long Since)> seen, CancellationToken ct)
    {
        // Bounded work per round however many entries the folder has; files already handled (that could not be moved
        // away) are skipped, so they cannot hide the others.
        var listed = Directory.EnumerateFiles(folder, "*.onnx").Take(MaxEntriesPerScan).ToList();
        foreach (var gone in seen.Keys.Where(k => !listed.Contains(k)).ToList()) seen.Remove(gone);
        foreach (var gone in _handled.Keys.Where(k => !listed.Contains(k)).ToList()) _handled.Remove(gone);
        var files = listed.Order(StringComparer.Ordinal).Where(f => !Handled(f)).Take(MaxFilesPerScan).ToList();
        foreach (var file in files)
        {
            var origin = $"folder: {ModelSettings.Clip(Path.GetFileName(file))}";
            if (new FileInfo(file).LinkTarget is not null)
            {
                SetAside(file, Refuse(origin, null, "it is a symbolic link; copy the model itself into the folder"));
                continue;
            }
            if (Onnx.IO.BoundedFile.Probe(file) is not { } probe) continue;
            if (!probe.IsRegular)
            {
                SetAside(file, Refuse(origin, null, $"it is {probe.Type}, not a regular file"));
                continue;
            }
            var now = _clock.GetTimestamp();
            if (!seen.TryGetValue(file, out var last) || last.Size != probe.Size || last.Mtime != probe.MtimeTicks)
            {
                seen[file] = (probe.Size, probe.MtimeTicks, now);
                continue;
            }
            if (_clock.GetElapsedTime(last.Since, now) < TimeSpan.FromMilliseconds(_options.StableMs)) continue;
            seen.Remove(file);
            ModelUpdateOutcome outcome;
            if (probe.Size > MaxBytes)
                outcome = Refuse(origin, null, $"it is {Onnx.IO.BoundedFile.Describe(probe.Size)}, over Model:Updates:MaxMb ({_options.MaxMb} MiB)");
            else
            {
                byte[] bytes;
                string? expected = null;
                try
                {
                    bytes = Onnx.IO.BoundedFile.ReadAll(file, MaxBytes);
                    var checksum = file + ".sha256";
                    if (File.Exists(checksum) || new FileInfo(checksum).LinkTarget is not null)
                    {
                        if (new FileInfo(checksum).LinkTarget is not null || Onnx.IO.BoundedFile.Probe(checksum) is not { IsRegular: true })
                        {
                            SetAside(file, Refuse(origin, null, $"its checksum file {Path.GetFileName(checksum)} is not a regular file"));
                            continue;
                        }
                        expected = System.Text.Encoding.ASCII.GetString(Onnx.IO.BoundedFile.ReadAll(checksum, 4096)).Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries)
                            .FirstOrDefault() ?? "";
                    }
                }
                catch (IOException e)
                {
                    SetAside(file, Refuse(origin, null, e.Message));
                    continue;
                }
                outcome = await SubmitAsync(bytes, expected, origin, ct).ConfigureAwait(false);
            }
            SetAside(file, outcome);
        }
    }

    /// <summary>Most folder entries looked at per round.</summary>
    public const int MaxEntriesPerScan = 1000;

    private bool Handled(string file) =>
        _handled.TryGetValue(file, out var h) && Onnx.IO.BoundedFile.Probe(file) is { } p && p.Size == h.Size && p.MtimeTicks == h.Mtime;

    /// <summary>
    /// A handled file leaves the folder: deleted once taken (the store has its copy), renamed NAME.onnx.refused (and
    /// its checksum NAME.onnx.sha256.refused) when refused. If that fails, the file is remembered as handled until it
    /// changes, so it is not taken again every round.
    /// </summary>
    private void SetAside(string file, ModelUpdateOutcome outcome)
    {
        var checksum = file + ".sha256";
        try
        {
            if (outcome.Outcome == ModelUpdateOutcome.Refused)
            {
                File.Move(file, file + ".refused", overwrite: true);
                if (File.Exists(checksum) || new FileInfo(checksum).LinkTarget is not null) File.Move(checksum, checksum + ".refused", overwrite: true);
            }
            else
            {
                File.Delete(file);
                File.Delete(checksum);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (Onnx.IO.BoundedFile.Probe(file) is { } p)
            {
                if (_handled.Count >= MaxRemembered) _handled.Remove(_handled.Keys.First());
                _handled[file] = (p.Size, p.MtimeTicks);
            }
            if (_said.First("aside:" + file))
                _logger.LogError("Model updates: cannot move '{File}' out of the way: {Reason}; it is left alone until it changes", file, e.Message);
        }
    }

    public void Dispose() => _gate.Dispose();
}
