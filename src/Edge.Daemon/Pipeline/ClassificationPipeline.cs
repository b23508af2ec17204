using System.Diagnostics;
using System.Threading.Channels;
using Edge.Core.Imaging;
using Edge.Core.Inference;
using Edge.Daemon.Actions;
using Edge.Daemon.Capture;
using Edge.Daemon.Models;
using Edge.Daemon.Regions;
using Edge.Daemon.Storage;
using Edge.Daemon.Triggers;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Pipeline;

/// <summary>
/// Capture → classify → record. Capture never waits for inference: frames go through a channel of
/// two that drops the oldest (counted). Classification runs when the trigger says so (every frame up
/// to a maximum rate, or on request), on the decode → preprocess → infer → top-k stages that allocate
/// nothing. Results go to the <see cref="ResultWriter"/>, which survives the store pausing (disk full).
/// A frame that fails (corrupt image, inference error, NaN scores, a bug in an action) is counted,
/// said once per kind, and the next frame goes on; <see cref="Health"/> says when failures persist.
/// The pipeline owns its <see cref="SourceSupervisor"/> (and through it the sources) and its motion detector:
/// disposing the pipeline disposes them. The classifier (or the <see cref="ModelSwitch"/>), the store
/// writer and the rules belong to the caller. With a switch, a new model is taken between two frames and put
/// on probation: each classification is reported to the switch, which rolls back a model that fails.
/// Rate limit and motion cooldown run on the injected clock (tests use a fake one); stage latencies are
/// measured with the real one.
/// </summary>
public sealed class ClassificationPipeline : IAsyncDisposable
{
    private readonly TimeProvider _clock;
    private readonly ModelSwitch _models;
    private readonly bool _ownsModels;
    private readonly SourceSupervisor _source;
    private readonly ResultWriter? _store;
    private readonly ILogger _logger;
    private readonly InferenceHealth _health;
    private readonly Lifecycle.SaidOnce _said = new();
    private readonly Channel<Frame> _frames;
    private readonly RegionTrack[] _regions;
    private readonly GpioOutputRule[] _rules; // an array: a for-each over it allocates nothing per frame
    private ScaleHint _decodeHint;
    private readonly PipelineSettings _settings;
    private Task? _running;
    private CancellationTokenSource? _runStop;
    private int _started, _disposed;
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    /// <summary>What it was started with (the status and metrics show its rules).</summary>
    public PipelineSettings Settings => _settings;
    private readonly long _minIntervalTicks;
    private readonly long _cooldownTicks;
    private readonly MotionDetector? _motion;
    private readonly Lock _latestGate = new();
    private byte[] _latestFrame = [];
    private int _latestFrameLength;
    private readonly StateEventRecord?[] _recentEvents = new StateEventRecord?[RecentEventCount];
    private int _recentEventNext;
    private long _stateChanges;
    private long _skipped;
    private long _captured, _dropped, _classified, _corrupt, _lastClassifiedAt, _motionEvents;
    private long _nextDue; // continuous mode: when the next classification is allowed
    private long _lastMotionAt = long.MinValue / 2;
    private int _pendingTriggers, _consecutiveCorrupt;
    private string? _lastCorrupt;

    /// <summary>Frames in a row that did not decode before the source counts as broken (a camera sending only garbage).</summary>
    public const int CorruptFramesBeforeUnhealthy = 20;

    /// <summary>A pipeline on one fixed model (which stays the caller's).</summary>
    public ClassificationPipeline(Classifier classifier, SourceSupervisor source, ResultWriter? store, ILogger logger, PipelineSettings settings,
        InferenceHealth? health = null, TimeProvider? clock = null)
        : this(new ModelSwitch(new LoadedModel(classifier, null,
                ModelIdentity.Of(classifier, ModelIdentity.HashFile(classifier.Model.Path) ?? "unknown", "configured", DateTimeOffset.UtcNow),
                ownsClassifiers: false)),
            source, store, logger, settings, health, clock, ownsModels: true)
    {
    }

    /// <summary>A pipeline whose model can be replaced through <paramref name="models"/> (which stays the caller's).</summary>
    public ClassificationPipeline(ModelSwitch models, SourceSupervisor source, ResultWriter? store, ILogger logger, PipelineSettings settings,
        InferenceHealth? health = null, TimeProvider? clock = null)
        : this(models, source, store, logger, settings, health, clock, ownsModels: false)
    {
    }

    private ClassificationPipeline(ModelSwitch models, SourceSupervisor source, ResultWriter? store, ILogger logger, PipelineSettings settings,
        InferenceHealth? health, TimeProvider? clock, bool ownsModels)
    {
        _clock = clock ?? source.Clock;
        _models = models;
        _ownsModels = ownsModels;
        var classifier = models.Current.Camera;
        _source = source;
        _store = store;
        _logger = logger;
        _settings = settings;
        _health = health ?? new InferenceHealth();
        _minIntervalTicks = (long)(_clock.TimestampFrequency / settings.MaxRate);
        _cooldownTicks = (long)(settings.MotionCooldown.TotalSeconds * _clock.TimestampFrequency);
        _motion = settings.Mode == TriggerMode.Motion ? new MotionDetector(settings.Motion) : null;
        _rules = [.. settings.Rules];
        var regions = settings.Regions.Count == 0 ? [Region.WholeFrame] : settings.Regions;
        _regions = [.. regions.Select(r => new RegionTrack(r, settings.Decision, settings.Smoothing, classifier.Model.Labels, settings.TopK))];
        _decodeHint = Region.DecodeHint(regions, classifier.Model.Preprocessing);
        _frames = Channel.CreateBounded<Frame>(new BoundedChannelOptions(2)
            {
                FullMode = settings.Lossless ? BoundedChannelFullMode.Wait : BoundedChannelFullMode.DropOldest, SingleReader = true,
            },
            dropped => { dropped.Dispose(); Interlocked.Increment(ref _dropped); });
    }

    /// <summary>Decode, preprocess, infer and post-process times of each classification.</summary>
    public LatencyWindow DecodeTimes { get; } = new();
    public LatencyWindow PreprocessTimes { get; } = new();
    public LatencyWindow InferTimes { get; } = new();
    public LatencyWindow PostTimes { get; } = new();
    /// <summary>From the frame's capture to its result (queueing included): what a trigger waits for.</summary>
    public LatencyWindow CaptureToResult { get; } = new();
    public long MotionEvents => Interlocked.Read(ref _motionEvents);
    public TriggerMode Mode => _settings.Mode;
    /// <summary>Frames classified per trigger.</summary>
    public int Burst => _settings.Burst;

    public LatencyWindow Latency { get; } = new();
    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>
    /// The latest classification, copied out under the lock: the pipeline overwrites one set of
    /// fields per result (no allocation per frame); readers (HTTP) pay for their own copy.
    /// </summary>
    public LatestResult? Latest
    {
        get
        {
            lock (_latestGate) return _regions[0].Status().Latest;
        }
    }

    /// <summary>Every region's latest result and state (the whole frame, named "frame", when no regions are configured).</summary>
    public IReadOnlyList<RegionStatus> Regions
    {
        get
        {
            lock (_latestGate) return [.. _regions.Select(r => r.Status())];
        }
    }

    /// <summary>State changes kept in memory for the status and the page (all of them are in the store).</summary>
    public const int RecentEventCount = 50;

    /// <summary>The latest state changes, oldest first.</summary>
    public IReadOnlyList<StateEventRecord> RecentEvents
    {
        get
        {
            lock (_latestGate)
            {
                var list = new List<StateEventRecord>(RecentEventCount);
                for (var i = 0; i < RecentEventCount; i++)
                    if (_recentEvents[(_recentEventNext + i) % RecentEventCount] is { } e) list.Add(e);
                return list;
            }
        }
    }

    /// <summary>State changes since start, all regions.</summary>
    public long StateChanges => Interlocked.Read(ref _stateChanges);

    /// <summary>The camera's name in events, results and metrics.</summary>
    public string CameraName => _settings.CameraName;
    public SourceStatus Source => _source.Status;
    /// <summary>The model classifying frames now.</summary>
    public Classifier Classifier => _models.Current.Camera;
    public ModelSwitch Models => _models;
    public ResultWriter? Store => _store;
    public InferenceHealth InferenceHealth => _health;

    public long FramesCaptured => Interlocked.Read(ref _captured);

    public PipelineCounters Counters => new(Interlocked.Read(ref _captured), Interlocked.Read(ref _dropped), Interlocked.Read(ref _classified),
        Interlocked.Read(ref _corrupt), _health.Failures, _health.LastFailure, _store?.Lost ?? 0, _store?.Pending ?? 0, _store?.Error,
        Interlocked.Read(ref _skipped));

    /// <summary>
    /// What keeps the daemon from doing its job, one line each (empty when healthy). Classification
    /// problems (a dead loop, a stuck or persistently failing model) also make <see cref="Alive"/> false:
    /// only a restart can mend those. A source that stays down and a store that cannot write are
    /// reported but recovered from in place.
    /// </summary>
    public IReadOnlyList<string> Health()
    {
        var problems = new List<string>();
        if (_health.Problem() is { } p) problems.Add(p);
        var s = _source.Status;
        var down = _source.Clock.GetUtcNow() - s.StateSince; // the clock the supervisor stamped StateSince with
        if (s.State is SourceState.Reconnecting or SourceState.Starting && down > _settings.SourceGrace)
            problems.Add($"source: {(s.State == SourceState.Starting ? "no frame yet" : "reconnecting")} for {down.TotalSeconds:0} s{(s.LastError is { } e ? ": " + e : "")}");
        if (Volatile.Read(ref _consecutiveCorrupt) is var corrupt and >= CorruptFramesBeforeUnhealthy)
            problems.Add($"source: the last {corrupt} frames did not decode: {Volatile.Read(ref _lastCorrupt)}");
        if (_store?.Error is { } storeError) problems.Add($"store: {storeError} ({_store.Pending} results waiting, {_store.Lost} lost)");
        return problems;
    }

    /// <summary>False when classification cannot go on (the systemd watchdog is then no longer fed).</summary>
    public bool Alive => _health.Alive;

    /// <summary>Most triggered frames waiting at once: triggers beyond are refused, not queued without end.</summary>
    public const int MaxPendingTriggerFrames = 100;

    /// <summary>Asks for the next <c>burst</c> frames to be classified (HTTP and GPIO triggers); false when too many already wait.</summary>
    public bool Trigger()
    {
        while (true)
        {
            var pending = Volatile.Read(ref _pendingTriggers);
            if (pending + _settings.Burst > Math.Max(MaxPendingTriggerFrames, _settings.Burst)) return false;
            if (Interlocked.CompareExchange(ref _pendingTriggers, pending + _settings.Burst, pending) == pending) return true;
        }
    }

    /// <summary>A copy of the latest captured frame (JPEG), or null before the first.</summary>
    public byte[]? LatestFrame()
    {
        lock (_latestGate) return _latestFrameLength == 0 ? null : _latestFrame[.._latestFrameLength];
    }

    /// <summary>
    /// Captures and classifies until <paramref name="ct"/> is cancelled (or <see cref="DisposeAsync"/> stops it).
    /// A pipeline runs once: stopping completes its frame queue for good.
    /// </summary>
    public Task RunAsync(CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.CompareExchange(ref _started, 1, 0) != 0) throw new InvalidOperationException("a pipeline runs once");
        _runStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        return _running = RunCoreAsync(_runStop.Token);
    }

    private async Task RunCoreAsync(CancellationToken ct)
    {
        var capture = Task.Run(() => _source.RunAsync(f =>
        {
            Interlocked.Increment(ref _captured);
            _settings.Clips?.Add(f); // every captured frame, dropped ones included, goes into the clip ring
            // Drop-oldest never refuses an open channel; after stop the frame is simply released.
            if (_frames.Writer.TryWrite(f)) return ValueTask.CompletedTask;
            return _settings.Lossless ? WaitToQueueAsync(f) : Release(f);
        }, ct), CancellationToken.None);
        var writer = _store is null ? Task.CompletedTask : Task.Run(() => _store.RunAsync(ct), CancellationToken.None);
        // Waiting without a token reuses the channel's single waiter (a token allocates one per wait);
        // stopping completes the channel instead.
        using var stopping = ct.UnsafeRegister(static s => ((Channel<Frame>)s!).Writer.TryComplete(), _frames);
        try
        {
            while (await _frames.Reader.WaitToReadAsync().ConfigureAwait(false))
                while (_frames.Reader.TryRead(out var frame))
                    using (frame) Process(frame);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            _health.Faulted($"{e.GetType().Name}: {e.Message}");
            throw;
        }
        finally
        {
            // Finish: the frame in flight is done; the writer flushes what is queued for the store.
            await Task.WhenAll(capture.ContinueWith(_ => { }, TaskScheduler.Default), writer.ContinueWith(_ => { }, TaskScheduler.Default)).ConfigureAwait(false);
            while (_frames.Reader.TryRead(out var left)) left.Dispose();
        }
    }

    /// <summary>Disposes what the pipeline owns: the supervisor (its unopened source), the motion detector, frames left queued; a run still going is stopped first.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try
        {
            // Its owner normally stops the run first; if not (an exception on the way out), the pipeline
            // stops it itself, so nothing it owns is disposed while a frame is still being classified.
            if (_running is { IsCompleted: false } running)
            {
                try { _runStop!.Cancel(); }
                catch (AggregateException e) { _logger.LogWarning("stopping the pipeline: {Error}", e.InnerException?.Message ?? e.Message); }
                try { await running.WaitAsync(StopTimeout).ConfigureAwait(false); }
                catch (TimeoutException) { _logger.LogWarning("the pipeline did not stop within {Seconds} s; disposing it anyway", StopTimeout.TotalSeconds); }
                catch (OperationCanceledException) { }
                catch (Exception e) { _logger.LogWarning("the pipeline's run failed: {Error}", e.Message); } // its owner left without awaiting it
            }
        }
        finally
        {
            if (_running is null or { IsCompleted: true }) _runStop?.Dispose();
            _frames.Writer.TryComplete();
            while (_frames.Reader.TryRead(out var left)) left.Dispose();
            _motion?.Dispose();
            await _source.DisposeAsync().ConfigureAwait(false);
            if (_ownsModels) _models.Dispose();
        }
    }

    private static ValueTask Release(Frame f)
    {
        f.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>A lossless source waits for room (a folder can wait; a camera would rather drop).</summary>
    private async ValueTask WaitToQueueAsync(Frame f)
    {
        try { await _frames.Writer.WriteAsync(f).ConfigureAwait(false); }
        catch (ChannelClosedException) { f.Dispose(); }
    }

    private void Process(Frame frame)
    {
        lock (_latestGate)
        {
            if (_latestFrame.Length < frame.Length) _latestFrame = new byte[Math.Max(frame.Length, _latestFrame.Length * 2)];
            frame.Data.CopyTo(_latestFrame);
            _latestFrameLength = frame.Length;
        }
        string trigger;
        var corrupt = false;
        var now = _clock.GetTimestamp();
        if (Volatile.Read(ref _pendingTriggers) > 0)
        {
            Interlocked.Decrement(ref _pendingTriggers);
            trigger = _settings.Mode == TriggerMode.Gpio ? "gpio" : "http";
        }
        else if (_settings.Mode == TriggerMode.Continuous && (_settings.Lossless || now >= _nextDue))
        {
            // A schedule, not a gap since the last one: a 30 fps camera at MaxRate 30 whose frames come a
            // little early or late is still classified 30 times a second (a gap test halves that).
            _nextDue = Math.Max(_nextDue, now - _minIntervalTicks) + _minIntervalTicks;
            trigger = "continuous";
        }
        else if (_motion is not null && MotionDue(frame, now, out corrupt)) trigger = "motion";
        else
        {
            // Not due (the rate limit, no motion, waiting for a trigger): counted, so captured frames add up; a frame the
            // motion detector could not decode is already counted as corrupt.
            if (!corrupt) Interlocked.Increment(ref _skipped);
            return;
        }

        // A model offered since the last frame starts with this one (never during one).
        if (_models.BeginFrame()) Rebind();
        _health.Begin();
        try
        {
            Classify(frame, trigger, now);
            _health.Succeeded();
            Volatile.Write(ref _consecutiveCorrupt, 0);
            _models.Classified(true);
        }
        catch (ImageDecodeException e)
        {
            // The frame was bad, not the model: counted as corrupt, not as an inference failure.
            _health.Succeeded();
            CountCorrupt(e);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Inference failed (ONNX Runtime error, NaN scores) or an action broke: count it, say each kind
            // once, go on with the next frame. Persistent failure makes the daemon unhealthy.
            var reason = e is InferenceException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            _health.Failed(reason);
            if (_said.First("inference:" + reason))
                _logger.LogError("Classification failed: {Reason} (counted in inference_errors; said once per kind)", reason);
            // A model on probation that fails too often is replaced by the last good one before the next frame.
            if (_models.Classified(false, reason)) Rebind();
        }
    }

    /// <summary>
    /// After a model change: buffers sized by the class count follow the new model, the smoothing history starts again
    /// (another model's scores are not comparable), and a region's state survives when its class is still there.
    /// Allocates only when the class count or labels changed.
    /// </summary>
    private void Rebind()
    {
        var model = _models.Current.Camera.Model;
        lock (_latestGate)
            foreach (var r in _regions) r.Bind(model.Labels, _settings.TopK);
        _decodeHint = Region.DecodeHint([.. _regions.Select(r => r.Region)], model.Preprocessing);
        _health.ModelChanged();
    }

    private void Classify(Frame frame, string trigger, long now)
    {
        var model = _models.Current;
        var classifier = model.Camera;
        var t0 = Stopwatch.GetTimestamp();
        classifier.Decode(frame.Data, _decodeHint);
        var t1 = Stopwatch.GetTimestamp();
        long preprocess = 0, infer = 0;
        var image = classifier.Image;
        // Regions go through the model together, as many per call as its batch allows.
        for (var start = 0; start < _regions.Length; start += classifier.MaxBatch)
        {
            var count = Math.Min(classifier.MaxBatch, _regions.Length - start);
            var p0 = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++) classifier.Preprocess(_regions[start + i].Region.Crop(image), i);
            var p1 = Stopwatch.GetTimestamp();
            classifier.Infer(count);
            classifier.Postprocess(count);
            var p2 = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++) _regions[start + i].Keep(classifier, i);
            preprocess += p1 - p0;
            infer += p2 - p1;
        }
        var t4 = Stopwatch.GetTimestamp();
        DecodeTimes.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
        PreprocessTimes.Add(Stopwatch.GetElapsedTime(0, preprocess).TotalMilliseconds);
        InferTimes.Add(Stopwatch.GetElapsedTime(0, infer).TotalMilliseconds);
        PostTimes.Add(Stopwatch.GetElapsedTime(t1 + preprocess + infer, t4).TotalMilliseconds);
        var ms = Stopwatch.GetElapsedTime(t0, t4).TotalMilliseconds;
        _lastClassifiedAt = now;
        Latency.Add(ms);
        CaptureToResult.Add((DateTimeOffset.UtcNow - frame.Time).TotalMilliseconds);
        Interlocked.Increment(ref _classified);
        // Decided under the lock that status readers take, so they never see a state without its time or result.
        lock (_latestGate)
            foreach (var r in _regions)
            {
                r.Decide(classifier, frame.Time);
                r.TopStored.AsSpan(0, r.Count).CopyTo(r.LatestTop);
                (r.LatestCount, r.LatestSequence, r.LatestTime, r.LatestTrigger, r.LatestLatency) = (r.Count, frame.Sequence, frame.Time, trigger, ms);
            }
        // One snapshot per frame at most: the first region whose result the snapshot filter takes (or that changed state).
        string? snapshot = null;
        if (_settings.Snapshots is { } snapshots)
            foreach (var r in _regions)
                if (r.Count > 0 && (snapshot = snapshots.Save(frame.Data, frame.Time, r.TopStored[0].Label, r.TopStored[0].Score)) is not null) break;
        // State changes are stored before any action runs: an action that fails cannot lose one.
        foreach (var r in _regions)
            if (r.Change is { } change) Changed(r, change, frame, snapshot, model.Identity.Short);
        var whole = _regions.Length == 1 && _regions[0].Region.IsWholeFrame;
        foreach (var r in _regions)
        {
            var top = r.TopStored.AsSpan(0, r.Count);
            // The store's queue keeps its own copy (a row written to SQLite allocates anyway).
            _store?.Add(new ResultRecord(frame.Time, _source.Description, trigger, top.ToArray(), ms, snapshot, model.Identity.Short,
                whole ? null : r.Region.Name, r.Decider.State));
        }
        foreach (var r in _regions)
        {
            var top = r.TopStored.AsSpan(0, r.Count);
            foreach (var rule in _rules)
                if (rule.Region is null || rule.Region == r.Region.Name) rule.Apply(top);
        }
    }

    /// <summary>A region's state changed: said, kept for the status, stored (webhooks are sent from the store).</summary>
    private void Changed(RegionTrack r, Decisions.StateChange change, Frame frame, string? snapshot, string model)
    {
        Interlocked.Increment(ref _stateChanges);
        var clip = _settings.Clips?.Begin(r.Region.Name, frame.Time);
        var e = new StateEventRecord(change.Since, _settings.CameraName, r.Region.Name, change.From, change.To, change.Score,
            r.TopStored[..r.Count], frame.Sequence, model, snapshot, clip);
        lock (_latestGate)
        {
            _recentEvents[_recentEventNext] = e;
            _recentEventNext = (_recentEventNext + 1) % RecentEventCount;
        }
        _logger.LogInformation("{Camera}/{Region}: {From} → {To} ({Score:0.000})", _settings.CameraName, r.Region.Name, change.From ?? "(start)", change.To, change.Score);
        _store?.Add(e);
    }

    private bool MotionDue(Frame frame, long now, out bool corrupt)
    {
        corrupt = false;
        bool moved;
        try { moved = _motion!.Update(frame.Data); }
        catch (ImageDecodeException e)
        {
            CountCorrupt(e);
            corrupt = true;
            return false;
        }
        if (!moved) return false;
        Interlocked.Increment(ref _motionEvents);
        if (now - _lastMotionAt < _cooldownTicks || now - _lastClassifiedAt < _minIntervalTicks) return false;
        _lastMotionAt = now;
        return true;
    }

    private void CountCorrupt(ImageDecodeException e)
    {
        Interlocked.Increment(ref _corrupt);
        Interlocked.Increment(ref _consecutiveCorrupt);
        Volatile.Write(ref _lastCorrupt, e.Message);
        if (_said.First(CorruptKeys[(int)e.Kind]))
            _logger.LogWarning("Skipping bad frames from {Source}: {Reason} (counted in corrupt_frames; said once per kind)", _source.Description, e.Message);
    }

    private static readonly string[] CorruptKeys = [.. Enum.GetNames<ImageErrorKind>().Select(n => "corrupt:" + n)];
}
