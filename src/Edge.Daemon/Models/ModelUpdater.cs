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
    private readonly Func<byte[]?> _latestFrame;
    private readonly IReadOnlyCollection<string> _ruleLabels;
    private readonly ResultWriter? _results;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly StartModel _configured;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Channel<ModelChange> _changes = Channel.CreateUnbounded<ModelChange>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lifecycle.SaidOnce _said = new();
    private readonly Lock _recentGate = new();
    private readonly Queue<ModelEvent> _recent = new();
    private long _accepted, _refused, _rolledBack;

    public ModelUpdater(ModelUpdateOptions options, ModelStore store, ModelSwitch models, Loader load, StartModel configured, string? samplesFolder,
        Func<byte[]?> latestFrame, IReadOnlyCollection<string> ruleLabels, ResultWriter? results, ILogger logger, string? folder, TimeProvider? clock = null)
    {
        _options = options;
        _store = store;
        _models = models;
        _load = load;
        _configured = configured;
        _samples = samplesFolder;
        _latestFrame = latestFrame;
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
            return await Task.Run(() => Check(bytes, expectedSha256, origin), CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
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
            if (!ModelStore.IsSha256(expected)) return Refuse(origin, sha, $"the checksum given ('{ModelSettings.Clip(expected)}') is not a SHA-256 (64 hex digits)");
            if (expected != sha) return Refuse(origin, sha, $"its SHA-256 is {sha}, not the {expected} given: the file is damaged or not the one meant");
        }
        else if (_options.RequireChecksum)
            return Refuse(origin, sha, "Model:Updates:RequireChecksum is on and no SHA-256 came with it (NAME.onnx.sha256 beside the file, or ?sha256= on POST /api/model)");
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
        LoadedModel model;
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
        string? problem;
        string detail;
        try
        {
            problem = CheckMetadata(model.Camera) ?? CheckLabels(model.Camera);
            detail = "";
            if (problem is null) (problem, detail) = Smoke(model);
        }
        catch
        {
            model.Release();
            throw;
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
            foreach (var file in Directory.EnumerateFiles(_samples).Where(ImageFiles.IsImage).Order(StringComparer.Ordinal).Take(MaxSmokeImages))
            {
                try { list.Add(($"the sample '{Path.GetFileName(file)}'", Onnx.IO.BoundedFile.ReadAll(file, MaxSampleBytes))); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
        if (_latestFrame() is { } frame) list.Add(("the latest camera frame", frame));
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
        try
        {
            _store.Prune([s.Current.Sha256, s.Previous?.Sha256, s.Pending?.Sha256, s.Fallback?.Sha256, active?.Current?.Sha256, active?.Previous?.Sha256]);
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
            await foreach (var c in _changes.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                await _gate.WaitAsync(ct).ConfigureAwait(false);
                try { Handle(c); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    _logger.LogError("Model updates: cannot record the change to {Sha} in '{Folder}': {Reason}", c.Model.Short, _store.Directory, e.Message);
                }
                finally { _gate.Release(); }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
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
                Record(new ModelEvent(now, "rolled-back", c.Model.Sha256, c.Model.Origin, c.Reason));
                _logger.LogError("Model {Sha} ({Origin}) rolled back: {Reason}; {Other} is classifying again", c.Model.Short, c.Model.Origin, c.Reason, c.Other?.Short);
                Prune();
                break;
            case ModelChangeKind.Superseded:
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
                _said.Reset();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (_said.First("watch:" + e.Message)) _logger.LogError("Model updates: cannot watch '{Folder}': {Reason} (retrying)", folder, e.Message);
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
        var files = Directory.EnumerateFiles(folder, "*.onnx").Order(StringComparer.Ordinal).Take(MaxFilesPerScan).ToList();
        foreach (var gone in seen.Keys.Where(k => !files.Contains(k)).ToList()) seen.Remove(gone);
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
                    if (File.Exists(checksum))
                        expected = System.Text.Encoding.ASCII.GetString(Onnx.IO.BoundedFile.ReadAll(checksum, 4096)).Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries)
                            .FirstOrDefault() ?? "";
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

    /// <summary>A handled file leaves the folder: deleted once taken (the store has its copy), renamed NAME.onnx.refused when refused.</summary>
    private void SetAside(string file, ModelUpdateOutcome outcome)
    {
        try
        {
            if (outcome.Outcome == ModelUpdateOutcome.Refused) File.Move(file, file + ".refused", overwrite: true);
            else
            {
                File.Delete(file);
                File.Delete(file + ".sha256");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (_said.First("aside:" + file)) _logger.LogError("Model updates: cannot move '{File}' out of the way: {Reason}; it will be tried again", file, e.Message);
        }
    }

    public void Dispose() => _gate.Dispose();
}
