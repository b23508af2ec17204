using System.Threading.Channels;
using Edge.Core.Imaging;
using Edge.Core.Inference;
using Edge.Daemon.Capture;
using Edge.Daemon.Models;
using Edge.Daemon.Pipeline.Sinks;
using Edge.Daemon.Regions;
using Edge.Daemon.Storage;
using Edge.Daemon.Triggers;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Pipeline;

/// <summary>
/// One camera, composed of stages with one job each: source (<see cref="SourceSupervisor"/>) → frame queue (a channel of
/// two that drops the oldest, counted: capture never waits for inference) → latest frame → trigger
/// (<see cref="FrameTrigger"/>) → classify (<see cref="RegionClassifier"/>: decode once, crop regions, batch inference)
/// → decide (each region's <see cref="RegionTrack"/>) → sinks, in order: snapshot, state events (and clips), results,
/// GPIO rules. The frame path allocates nothing per frame in steady state.
/// A frame that fails (corrupt image, inference error, NaN scores, a bug in an action) is counted, said once per kind,
/// and the next frame goes on; <see cref="Health"/> says when failures persist.
/// The pipeline owns its <see cref="SourceSupervisor"/> (and through it the sources) and its trigger: disposing the
/// pipeline disposes them. The model (<see cref="ModelSwitch"/>, which cameras may share: they classify in turn under its
/// gate), the store writer (run by the daemon, shared by cameras), the snapshot writer, the clip recorder and the rules
/// belong to the caller. A new model is taken between two frames and put on probation: each classification is reported
/// to the switch, which rolls back a model that fails. The rate limit and motion cooldown run on the injected clock
/// (tests use a fake one); stage latencies are measured with the real one.
/// </summary>
public sealed class CameraPipeline : IAsyncDisposable
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
    private readonly FrameTrigger _trigger;
    private readonly RegionTrack[] _regions;
    private readonly RegionClassifier _classify;
    private readonly StateEventSink _events;
    private readonly IFrameSink[] _sinks;
    private readonly FrameOutcome _outcome;
    private readonly PipelineSettings _settings;
    private LoadedModel _bound; // the model the region buffers are sized for
    private Task? _running;
    private CancellationTokenSource? _runStop;
    private int _started, _disposed;
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    /// <summary>What it was started with (the status and metrics show its rules).</summary>
    public PipelineSettings Settings => _settings;
    // Region statuses are written and read under this lock, so readers never see a state without its time or result.
    private readonly Lock _latestGate = new();
    private byte[] _latestFrame = [];
    private int _latestFrameLength;
    private long _captured, _dropped, _classified, _corrupt;
    private int _consecutiveCorrupt;
    private string? _lastCorrupt;

    /// <summary>Frames in a row that did not decode before the source counts as broken (a camera sending only garbage).</summary>
    public const int CorruptFramesBeforeUnhealthy = 20;

    /// <summary>A pipeline on one fixed model (which stays the caller's).</summary>
    public CameraPipeline(Classifier classifier, SourceSupervisor source, ResultWriter? store, ILogger logger, PipelineSettings settings,
        InferenceHealth? health = null, TimeProvider? clock = null)
        : this(new ModelSwitch(new LoadedModel(classifier, null,
                ModelIdentity.Of(classifier, ModelIdentity.HashFile(classifier.Model.Path) ?? "unknown", "configured", DateTimeOffset.UtcNow),
                ownsClassifiers: false)),
            source, store, logger, settings, health, clock, ownsModels: true)
    {
    }

    /// <summary>A pipeline whose model can be replaced through <paramref name="models"/> (which stays the caller's, and may be shared by cameras).</summary>
    public CameraPipeline(ModelSwitch models, SourceSupervisor source, ResultWriter? store, ILogger logger, PipelineSettings settings,
        InferenceHealth? health = null, TimeProvider? clock = null)
        : this(models, source, store, logger, settings, health, clock, ownsModels: false)
    {
    }

    private CameraPipeline(ModelSwitch models, SourceSupervisor source, ResultWriter? store, ILogger logger, PipelineSettings settings,
        InferenceHealth? health, TimeProvider? clock, bool ownsModels)
    {
        _clock = clock ?? source.Clock;
        _models = models;
        _ownsModels = ownsModels;
        _bound = models.Current;
        var model = _bound.Camera.Model;
        _source = source;
        _store = store;
        _logger = logger;
        _settings = settings;
        _health = health ?? new InferenceHealth();
        _trigger = new FrameTrigger(settings, _clock);
        var regions = settings.Regions.Count == 0 ? [Region.WholeFrame] : settings.Regions;
        _regions = [.. regions.Select(r => new RegionTrack(r, settings.Decision, settings.Smoothing, model.Labels, settings.TopK))];
        _classify = new RegionClassifier(_regions, model);
        _events = new StateEventSink(store, settings.Clips, logger);
        _outcome = new FrameOutcome(settings.CameraName);
        List<IFrameSink> sinks = [];
        if (settings.Snapshots is { } snapshots) sinks.Add(new SnapshotSink(snapshots));
        // A frame's results are queued before its state changes (webhooks send a result before the change it caused),
        // and both before any action runs: an action that fails cannot lose one.
        if (store is not null) sinks.Add(new ResultStoreSink(store));
        sinks.Add(_events);
        if (settings.Rules.Count > 0) sinks.Add(new GpioRuleSink(settings.Rules));
        _sinks = [.. sinks];
        _frames = Channel.CreateBounded<Frame>(new BoundedChannelOptions(2)
            {
                FullMode = settings.Lossless ? BoundedChannelFullMode.Wait : BoundedChannelFullMode.DropOldest, SingleReader = true,
            },
            dropped => { dropped.Dispose(); Interlocked.Increment(ref _dropped); });
    }

    /// <summary>Decode, preprocess, infer and post-process times of each classification.</summary>
    public LatencyWindow DecodeTimes => _classify.DecodeTimes;
    public LatencyWindow PreprocessTimes => _classify.PreprocessTimes;
    public LatencyWindow InferTimes => _classify.InferTimes;
    public LatencyWindow PostTimes => _classify.PostTimes;
    /// <summary>From the frame's capture to its decision (queueing, and waiting for another camera's turn on the model, included): what a trigger waits for.</summary>
    public LatencyWindow CaptureToResult { get; } = new();
    public long MotionEvents => _trigger.MotionEvents;
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
    public const int RecentEventCount = StateEventSink.RecentCount;

    /// <summary>The latest state changes, oldest first.</summary>
    public IReadOnlyList<StateEventRecord> RecentEvents => _events.Recent;

    /// <summary>State changes since start, all regions.</summary>
    public long StateChanges => _events.Changes;

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
        _trigger.Skipped);

    /// <summary>
    /// What keeps this camera from doing its job, one line each (empty when healthy). Classification
    /// problems (a dead loop, a stuck or persistently failing model) also make <see cref="Alive"/> false:
    /// only a restart can mend those. A source that stays down and a store that cannot write are
    /// reported but recovered from in place.
    /// </summary>
    public IReadOnlyList<string> Health() => Health(includeStore: true);

    /// <param name="includeStore">False where the store, shared by cameras, is reported once for all of them.</param>
    public IReadOnlyList<string> Health(bool includeStore)
    {
        var problems = new List<string>();
        if (_health.Problem() is { } p) problems.Add(p);
        var s = _source.Status;
        var down = _source.Clock.GetUtcNow() - s.StateSince; // the clock the supervisor stamped StateSince with
        if (s.State is SourceState.Reconnecting or SourceState.Starting && down > _settings.SourceGrace)
            problems.Add($"source: {(s.State == SourceState.Starting ? "no frame yet" : "reconnecting")} for {down.TotalSeconds:0} s{(s.LastError is { } e ? ": " + e : "")}");
        if (Volatile.Read(ref _consecutiveCorrupt) is var corrupt and >= CorruptFramesBeforeUnhealthy)
            problems.Add($"source: the last {corrupt} frames did not decode: {Volatile.Read(ref _lastCorrupt)}");
        if (includeStore && _store?.Error is { } storeError) problems.Add($"store: {storeError} ({_store.Pending} results waiting, {_store.Lost} lost)");
        return problems;
    }

    /// <summary>False when classification cannot go on (the systemd watchdog is then no longer fed).</summary>
    public bool Alive => _health.Alive;

    /// <summary>Most triggered frames waiting at once: triggers beyond are refused, not queued without end.</summary>
    public const int MaxPendingTriggerFrames = FrameTrigger.MaxPendingFrames;

    /// <summary>Asks for the next <c>burst</c> frames to be classified (an HTTP request); false when too many already wait.</summary>
    public bool Trigger() => _trigger.Request();

    /// <summary>The same, asked by the camera's own input (its GPIO line or PIR sensor): results name the input.</summary>
    public bool TriggerFromInput() => _trigger.Request(fromInput: true);

    /// <summary>A copy of the latest captured frame (JPEG), or null before the first.</summary>
    public byte[]? LatestFrame()
    {
        lock (_latestGate) return _latestFrameLength == 0 ? null : _latestFrame[.._latestFrameLength];
    }

    /// <summary>
    /// Captures and classifies until <paramref name="ct"/> is cancelled (or <see cref="DisposeAsync"/> stops it).
    /// A pipeline runs once: stopping completes its frame queue for good. The store writer is not run here (cameras share it).
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
            // Finish: the frame in flight is done.
            await capture.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            while (_frames.Reader.TryRead(out var left)) left.Dispose();
        }
    }

    /// <summary>Disposes what the pipeline owns: the supervisor (its unopened source), the trigger, frames left queued; a run still going is stopped first.</summary>
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
            _trigger.Dispose();
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
        var now = _clock.GetTimestamp();
        if (_trigger.Due(frame, now, out var corrupt) is not { } trigger)
        {
            if (corrupt is not null) CountCorrupt(corrupt);
            return;
        }
        // Cameras sharing the model take it in turn, for decode, inference and deciding (which ranks with the model's labels);
        // a model offered since the last frame starts with this one (never during one).
        string model;
        double ms;
        lock (_models.Gate)
        {
            _models.BeginFrame();
            if (_models.Current != _bound) Rebind();
            _health.Begin();
            try
            {
                (model, ms) = Classify(frame, trigger, now);
                _models.Classified(true);
            }
            catch (ImageDecodeException e)
            {
                // The frame was bad, not the model: counted as corrupt, not as an inference failure.
                _health.Succeeded();
                CountCorrupt(e);
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Inference failed (ONNX Runtime error, NaN scores): count it, say each kind once, go on with the next frame.
                // Persistent failure makes the daemon unhealthy.
                var reason = e is InferenceException ? e.Message : $"{e.GetType().Name}: {e.Message}";
                Failed(reason);
                // A model on probation that fails too often is replaced by the last good one before the next frame.
                _models.Classified(false, reason);
                return;
            }
        }
        // The sinks (snapshot, events, results, pins) run outside the model's turn: one camera's slow disk never holds up another's
        // inference. An action that breaks counts as a failure (a daemon whose actions fail is not doing its job) but never
        // against the model.
        try
        {
            _outcome.Begin(frame, trigger, ms, model, _regions, _source.Description);
            foreach (var sink in _sinks) sink.Write(_outcome);
            _health.Succeeded();
            Volatile.Write(ref _consecutiveCorrupt, 0);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Failed($"{e.GetType().Name}: {e.Message}");
        }
    }

    private void Failed(string reason)
    {
        _health.Failed(reason);
        if (_said.First("inference:" + reason))
            _logger.LogError("Classification failed on {Camera}: {Reason} (counted in inference_errors; said once per kind)", _settings.CameraName, reason);
    }

    /// <summary>
    /// After a model change (here or by another camera sharing the model): buffers sized by the class count follow the new
    /// model, the smoothing history starts again (another model's scores are not comparable), and a region's state survives
    /// when its class is still there. Allocates only when the class count or labels changed.
    /// </summary>
    private void Rebind()
    {
        _bound = _models.Current;
        var model = _bound.Camera.Model;
        lock (_latestGate)
            foreach (var r in _regions) r.Bind(model.Labels, _settings.TopK);
        _classify.Rebind(model);
        _health.ModelChanged();
    }

    /// <summary>Classifies and decides every region; returns the model's short identity and the milliseconds it took.</summary>
    private (string Model, double Ms) Classify(Frame frame, string trigger, long now)
    {
        var model = _models.Current;
        var classifier = model.Camera;
        var ms = _classify.Classify(classifier, frame.Data);
        _trigger.Classified(now);
        Latency.Add(ms);
        CaptureToResult.Add((DateTimeOffset.UtcNow - frame.Time).TotalMilliseconds);
        Interlocked.Increment(ref _classified);
        // Decide: under the lock that status readers take, so they never see a state without its time or result.
        lock (_latestGate)
            foreach (var r in _regions)
            {
                r.Decide(classifier, frame.Time);
                r.TopStored.AsSpan(0, r.Count).CopyTo(r.LatestTop);
                (r.LatestCount, r.LatestSequence, r.LatestTime, r.LatestTrigger, r.LatestLatency) = (r.Count, frame.Sequence, frame.Time, trigger, ms);
            }
        return (model.Identity.Short, ms);
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
