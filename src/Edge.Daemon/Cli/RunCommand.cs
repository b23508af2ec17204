using System.CommandLine;
using Edge.Cli;
using Edge.Core.Inference;
using Edge.Daemon.Capture;
using Edge.Daemon.Configuration;
using Edge.Daemon.Http;
using Edge.Daemon.Interop;
using Edge.Daemon.Lifecycle;
using Edge.Daemon.Pipeline;
using Edge.Daemon.Storage;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Cli;

/// <summary><c>edged run [--config edged.json] [--Key=Value ...]</c> and <c>edged check</c>.</summary>
internal static class RunCommand
{
    public static Command Create(ILoggerFactory logs, ILoggerProvider provider)
    {
        var config = new Option<string?>("--config", "-c") { Description = "JSON configuration (see README); without it the shipped model runs on the shipped sample frames" };
        var command = new Command("run", "Run the daemon: capture, classify, record and serve the status API") { TreatUnmatchedTokensAsErrors = false };
        command.Options.Add(config);
        command.SetAction((r, ct) => Program.GuardAsync(() => RunAsync(OptionsLoader.Load(r.GetValue(config), r.UnmatchedTokens), logs, provider, ct)));
        return command;
    }

    public static Command CreateCheck(ILoggerFactory logs)
    {
        var config = new Option<string?>("--config", "-c") { Description = "JSON configuration to check" };
        var command = new Command("check", "Validate the configuration, load the model and read one frame from the source, then exit") { TreatUnmatchedTokensAsErrors = false };
        command.Options.Add(config);
        command.SetAction((r, ct) => Program.GuardAsync(() => CheckAsync(OptionsLoader.Load(r.GetValue(config), r.UnmatchedTokens), logs, ct)));
        return command;
    }

    internal static Classifier LoadModel(EdgedOptions o, ILogger logger, int? threads = null, long? maxPixels = null,
        Core.Imaging.JpegScanChecking scanCheck = Core.Imaging.JpegScanChecking.WhenGreyFilled)
    {
        try
        {
            return LoadClassifier(o, o.Model.Path ?? DefaultPaths.DefaultModel, logger, threads, maxPixels, scanCheck);
        }
        catch (ModelLoadException e)
        {
            throw new CliError($"Model:Path: {e.Message}");
        }
    }

    /// <summary>One session on <paramref name="path"/> with the configured options (the camera's, or the uploads' with their own limits).</summary>
    /// <exception cref="ModelLoadException">The model cannot be used.</exception>
    private static Classifier LoadClassifier(EdgedOptions o, string path, ILogger logger, int? threads = null, long? maxPixels = null,
        Core.Imaging.JpegScanChecking scanCheck = Core.Imaging.JpegScanChecking.WhenGreyFilled, int maxBatch = 1)
    {
        OnnxRuntimeLibrary.Configure(o.Model.OnnxRuntimeLibrary, logger);
        return Classifier.Load(path,
            new ClassifierOptions
            {
                IntraOpThreads = threads ?? o.Model.Threads, ExecutionProviders = o.Model.Providers, MaxBatch = maxBatch,
                MaxImagePixels = maxPixels ?? o.Model.MaxPixels,
                MaxInferenceBytes = o.Model.MaxInferenceMb * 1024L * 1024,
                JpegScanCheck = scanCheck,
            }, logger: logger);
    }

    /// <summary>
    /// Both sessions a model runs in: the camera's, and (when uploads are on) the uploads' own, on one thread with
    /// the upload pixel limit and full JPEG scan checks, so that uploads never take the camera's session.
    /// </summary>
    /// <exception cref="ModelLoadException">The model cannot be used.</exception>
    private static Models.LoadedModel LoadBoth(EdgedOptions o, string path, string sha256, string origin, ILogger logger, IReadOnlySet<string> ownLabels,
        bool checkLabels = true)
    {
        // A camera's regions go through the model in one call (as many as its batch takes): the batch of the camera with the most.
        var batch = o.CameraList().Where(x => x.Camera.Model is null).Select(x => x.Camera.Regions.Length).Append(1).Max();
        var camera = LoadClassifier(o, path, logger, maxBatch: batch);
        try
        {
            if (checkLabels) CheckLabels(o, camera.Model, ownLabels);
        }
        catch
        {
            camera.Dispose();
            throw;
        }
        try
        {
            var uploads = o.Http.MaxQueuedUploads > 0
                ? LoadClassifier(o, path, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, threads: 1, maxPixels: o.Http.MaxUploadPixels,
                    scanCheck: Core.Imaging.JpegScanChecking.Always)
                : null;
            return new Models.LoadedModel(camera, uploads, Models.ModelIdentity.Of(camera, sha256, origin, DateTimeOffset.UtcNow));
        }
        catch
        {
            camera.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The model to start with: the last proven update (when updates are on and it was accepted over the model
    /// configured now), else the configured model. An update that no longer loads is said, and the configured model runs.
    /// </summary>
    private static (Models.LoadedModel Model, Models.ModelIdentity? Previous) LoadStartModel(EdgedOptions o, Models.ModelStore store, Models.StartModel configured,
        ILogger logger, IReadOnlySet<string> ownLabels)
    {
        var start = o.Model.Updates.Enabled ? store.ResolveStart(configured, logger) : configured;
        if (start.Path != configured.Path)
        {
            try
            {
                var model = LoadBoth(o, start.Path, start.Sha256, start.Origin, logger, ownLabels);
                logger.LogInformation("model: {Sha} ({Origin}), the last update accepted over Model:Path '{Configured}'", start.Sha256[..12], start.Origin, configured.Path);
                return (model, start.Previous);
            }
            catch (ModelLoadException e)
            {
                logger.LogWarning("Model updates: the last accepted model no longer loads ({Reason}); running the configured model", e.Message);
            }
        }
        try
        {
            var model = LoadBoth(o, configured.Path, configured.Sha256, configured.Origin, logger, ownLabels, checkLabels: false);
            try
            {
                // The configured model must have the classes the settings name: a settings error, said as one.
                CheckLabels(o, model.Camera.Model, ownLabels);
            }
            catch (ModelLoadException e)
            {
                model.Release();
                throw new CliError("config: " + e.Message);
            }
            return (model, null);
        }
        catch (ModelLoadException e)
        {
            throw new CliError($"Model:Path: {e.Message}");
        }
    }

    /// <summary>The labels the settings name (per-class thresholds, rules), with their keys.</summary>
    private static IEnumerable<(string Key, string Label)> SettingsLabels(EdgedOptions o) =>
        o.Decision.Classes.Select((c, i) => (Key: $"Decision:Classes:{i}:Label", c.Label))
            .Concat(o.Actions.Rules.Select((r, i) => (Key: $"Actions:Rules:{i}:Label", r.Label)))
            .Concat(o.Webhooks.SelectMany((w, i) => w.Results.Select((c, j) => (Key: $"Webhooks:{i}:Results:{j}", Label: c)))
                .Where(x => x.Label != Decisions.StateDecider.Unknown));

    /// <summary>
    /// Labels the settings name (rules, per-class thresholds) must be classes of the model, or of a camera's own model
    /// (<paramref name="ownLabels"/>): a typo would never match.
    /// </summary>
    /// <exception cref="ModelLoadException">One is not.</exception>
    private static void CheckLabels(EdgedOptions o, Core.Inference.ModelDescriptor model, IReadOnlySet<string> ownLabels)
    {
        var missing = SettingsLabels(o).Where(x => !model.Labels.Contains(x.Label) && !ownLabels.Contains(x.Label)).ToList();
        if (missing.Count > 0)
            throw new ModelLoadException(string.Join("; ", missing.Select(x => $"{x.Key} '{Onnx.Metadata.ModelSettings.Clip(x.Label)}' is not a class of the model")) +
                $" (its classes: {string.Join(", ", model.Labels.Take(20))}{(model.Labels.Count > 20 ? ", ..." : "")})");
    }

    internal static Func<IFrameSource> SourceFactory(SourceOptions s, HttpClient http, ILogger logger)
    {
        switch (s.Kind.ToLowerInvariant())
        {
            case "pipe": return () => new PipeMjpegSource(s.Command!, s.MaxFrameBytes);
            case "rpicam":
            {
                var command = RpicamCommand.For(s);
                return () => new PipeMjpegSource(command, s.MaxFrameBytes);
            }
            case "http": return () => new HttpMjpegSource(new Uri(s.Url!), http, s.MaxFrameBytes);
            case "v4l2": return () => new Capture.V4l2.V4l2Source(s.Device, s.Width, s.Height);
            case "image":
            {
                var options = new FolderSourceOptions { Loop = true, Fps = s.Fps, MaxFileBytes = s.MaxFrameBytes };
                return () => new FolderSource(s.Path ?? DefaultPaths.Samples, options, null, logger);
            }
            default:
            {
                // One cursor for the life of the daemon: reopening the source must not deliver old files again.
                var cursor = new FolderCursor();
                var options = new FolderSourceOptions
                {
                    Loop = s.Loop, Fps = s.Fps, ProcessExisting = s.ProcessExisting, Stable = TimeSpan.FromMilliseconds(s.StableMs), MaxFileBytes = s.MaxFrameBytes,
                };
                return () => new FolderSource(s.Path ?? DefaultPaths.Samples, options, cursor, logger);
            }
        }
    }

    private static async Task<int> RunAsync(EdgedOptions o, ILoggerFactory logs, ILoggerProvider provider, CancellationToken ct)
    {
        var logger = logs.CreateLogger("edged");
        using var notifier = new SystemdNotifier();
        var endpoints = HttpEndpoints.Parse(o.Http.Url, []);
        var state = StateDirectory.Resolve(Environment.GetEnvironmentVariable);
        if (o.Store.Enabled)
        {
            o = o with { Store = o.Store with { Path = o.Store.Path ?? state.Results } };
            logger.LogInformation("results: {Path}{Origin}", o.Store.Path, o.Store.Path == state.Results ? $" ({state.Origin})" : "");
        }
        // Taken before the model loads, so a second daemon on the same store is refused at once.
        using var storeLock = o.Store.Enabled ? StoreLock.Acquire(o.Store.Path!, logger) : null;
        var configuredPath = Path.GetFullPath(o.Model.Path ?? DefaultPaths.DefaultModel);
        var configured = new Models.StartModel(configuredPath, "configured", Models.ModelIdentity.HashFile(configuredPath) ?? "");
        var modelStore = new Models.ModelStore(Path.Combine(state.Path, "models"));
        // One store for every camera, written by one writer that the daemon runs (results carry their camera).
        var store = o.Store.Enabled
            ? new ResultWriter(o.Store.Path!, () => new ResultStore(o.Store.Path!, o.Store.MaxRows, TimeSpan.FromDays(o.Store.MaxAgeDays), o.Decision.MaxEvents), o.Store.MaxPending, logger)
            {
                // Cursors of webhooks no longer configured are forgotten: they would hold back retention for ever.
                WebhookCursors = ([.. o.Webhooks.Where(w => w.StateChanges).Select(w => Webhooks.WebhookSender.KeyOf(w.Url))],
                    [.. o.Webhooks.Where(w => w.Results.Length > 0).Select(w => Webhooks.WebhookSender.KeyOf(w.Url))]),
            }
            : null;
        var cameras = o.CameraList();
        // Cameras with a model of their own: loaded first, since the labels the settings name may be classes of these.
        var own = new Dictionary<string, Models.ModelSwitch>(StringComparer.Ordinal);
        try
        {
            foreach (var (key, c) in cameras.Where(x => x.Camera.Model is not null))
                own[c.Name] = new Models.ModelSwitch(LoadOwnModel(o, key, c, logger));
            var ownLabels = own.Values.SelectMany(m => m.Current.Camera.Model.Labels).ToHashSet(StringComparer.Ordinal);
            // What the cameras use outlives them: declared (and so disposed) outside the block that stops the cameras.
            // The switch owns the running model (and the one kept to fall back to); it tells the updater of every change.
            Models.ModelUpdater? updater = null;
            var (startModel, startPrevious) = LoadStartModel(o, modelStore, configured, logger, ownLabels);
            using var models = new Models.ModelSwitch(startModel, o.Model.Updates.ProbationFrames, o.Model.Updates.RollbackFailures,
                change => updater?.OnChange(change), startPrevious);
            // Uploads get a session of their own (one thread, their own pixel limit), so they never take the cameras'.
            using var uploads = o.Http.MaxQueuedUploads > 0 ? new UploadClassifier(models, o.Http.MaxQueuedUploads, o.Model.TopK, logger) : null;
            using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            var modes = cameras.Select(x => Enum.Parse<TriggerMode>(x.Camera.Trigger.Mode, ignoreCase: true)).ToList();
            using var gpio = modes.Contains(TriggerMode.Gpio) || modes.Contains(TriggerMode.Pir) || o.Actions.Rules.Length > 0 ? OpenGpio(o.Gpio) : null;
            var updateFolder = Path.GetFullPath(o.Model.Updates.Folder ?? Path.Combine(modelStore.Directory, "incoming"));
            if (o.Model.Updates.Enabled && updateFolder.TrimEnd('/') == modelStore.Directory.TrimEnd('/'))
                throw new CliError($"Model:Updates:Folder: '{o.Model.Updates.Folder}' is where edged keeps the models it accepted; drop new ones into another folder (default: {Path.Combine(modelStore.Directory, "incoming")})");
            // One daemon per models directory (kept copies, active.json, the drop folder): a second one runs without updates.
            // Updates replace Model:Path's model: with every camera on a model of its own there is nothing for them to replace.
            var updatesWanted = o.Model.Updates.Enabled && cameras.Any(x => x.Camera.Model is null);
            if (o.Model.Updates.Enabled && !updatesWanted)
                logger.LogInformation("model updates are off: every camera runs a model of its own (Cameras:N:Model); updates replace Model:Path's");
            using var modelsLock = updatesWanted ? LockModels(modelStore, logger) : null;
            var pipelines = new List<CameraPipeline>();
            // A candidate is tried on the latest frame of every camera it would classify; it must have the labels that the
            // settings name for those cameras (labels only a camera's own model has are that model's business).
            var shared = cameras.Where(x => x.Camera.Model is null).Select(x => x.Camera.Name).ToHashSet(StringComparer.Ordinal);
            var sharedLabels = o.Decision.Classes.Select(c => c.Label)
                .Concat(o.Actions.Rules.Where(r => string.IsNullOrEmpty(r.Camera) || shared.Contains(r.Camera)).Select(r => r.Label))
                .Where(startModel.Camera.Model.Labels.Contains).Distinct().ToList();
            using var updates = modelsLock is not null
                ? new Models.ModelUpdater(o.Model.Updates, modelStore, models, (path, sha, origin) => LoadBoth(o, path, sha, origin, logger, ownLabels), configured,
                    DefaultPaths.Samples, () => LatestFrames(pipelines, models), sharedLabels, store, logger, updateFolder)
                : null;
            updater = updates;
            updates?.RecoverInterruptedCheck();
            if (updates is not null)
                logger.LogInformation("model updates: drop a .onnx file into {Folder}{Api}", updates.Folder,
                    string.IsNullOrEmpty(o.Http.Token) ? "" : ", or POST it to /api/model");
            using var hookClient = Webhooks.WebhookSender.CreateClient();
            var clips = new List<Clips.ClipRecorder>();
            var edges = new List<Triggers.GpioEdgeTrigger>();
            var pirs = new List<Triggers.PirMotionTrigger>();
            List<Actions.GpioOutputRule> rules = [];
            try
            {
                // One rule object per rule, whichever cameras it watches (it keeps its pin's pulse; it takes results from any thread).
                rules = [.. o.Actions.Rules.Select(r => new Actions.GpioOutputRule(gpio!, r.Label, r.MinScore, r.Pin, TimeSpan.FromMilliseconds(r.DurationMs), logger)
                {
                    Region = string.IsNullOrEmpty(r.Region) ? null : r.Region,
                })];
                var snapshots = string.IsNullOrEmpty(o.Actions.Snapshots.Folder) ? null
                    : new Actions.SnapshotWriter(o.Actions.Snapshots.Folder, o.Actions.Snapshots.MaxFiles, o.Actions.Snapshots.MinFreeMb * 1024L * 1024, logger,
                        string.IsNullOrEmpty(o.Actions.Snapshots.Label) ? null : o.Actions.Snapshots.Label, o.Actions.Snapshots.MinScore);
                var clipFolder = o.Clips.Folder is null ? null : Clips.ClipRecorder.FolderFor(o.Clips);
                for (var i = 0; i < cameras.Count; i++)
                {
                    var c = cameras[i].Camera;
                    var mode = modes[i];
                    // Files are events: every one is classified, at the source's pace (no faster than Trigger:MaxRate in continuous mode).
                    var folder = c.Source.Kind.ToLowerInvariant() is "folder" or "image";
                    var source = folder && mode == TriggerMode.Continuous ? c.Source with { Fps = Math.Min(c.Source.Fps, c.Trigger.MaxRate) } : c.Source;
                    var supervisor = new SourceSupervisor(SourceFactory(source, http, logger), TimeSpan.FromMilliseconds(c.Source.NoFrameTimeoutMs), logger,
                        restartWhenEnded: !folder || c.Source.Loop);
                    // Each camera keeps its own ring (Clips:BufferMb each); clips of all cameras share the folder and its retention.
                    var recorder = clipFolder is null ? null : new Clips.ClipRecorder(o.Clips, c.Name, logger, folder: clipFolder);
                    if (recorder is not null) clips.Add(recorder);
                    var m = c.Trigger.Motion;
                    // The pipeline owns the supervisor (and the sources it makes); disposed after its run has ended.
                    pipelines.Add(new CameraPipeline(own.GetValueOrDefault(c.Name) ?? models, supervisor, store, logger, new PipelineSettings
                    {
                        Mode = mode,
                        MaxRate = c.Trigger.MaxRate,
                        Burst = c.Trigger.Burst,
                        TopK = o.Model.TopK,
                        Smoothing = c.Trigger.Smoothing,
                        Motion = m,
                        MotionCooldown = TimeSpan.FromMilliseconds(m.CooldownMs),
                        Rules = [.. rules.Where((_, r) => string.IsNullOrEmpty(o.Actions.Rules[r].Camera) || o.Actions.Rules[r].Camera == c.Name)],
                        Snapshots = snapshots,
                        SourceGrace = TimeSpan.FromMilliseconds(Math.Max(10_000, 2.0 * c.Source.NoFrameTimeoutMs)),
                        Lossless = folder,
                        CameraName = c.Name,
                        Clips = recorder,
                        Regions = [.. c.Regions.Select(Regions.Region.From)],
                        Decision = o.Decision,
                    }));
                    var pipeline = pipelines[^1];
                    if (mode == TriggerMode.Gpio)
                    {
                        var g = c.Trigger.Gpio;
                        edges.Add(new Triggers.GpioEdgeTrigger(gpio!, g.Pin,
                            g.Pull.ToLowerInvariant() switch { "down" => System.Device.Gpio.PinMode.InputPullDown, "none" => System.Device.Gpio.PinMode.Input, _ => System.Device.Gpio.PinMode.InputPullUp },
                            g.Edge.ToLowerInvariant() switch
                            {
                                "rising" => System.Device.Gpio.PinEventTypes.Rising,
                                "both" => System.Device.Gpio.PinEventTypes.Rising | System.Device.Gpio.PinEventTypes.Falling,
                                _ => System.Device.Gpio.PinEventTypes.Falling,
                            },
                            TimeSpan.FromMilliseconds(g.DebounceMs), () => pipeline.TriggerFromInput(), logger));
                    }
                    else if (mode == TriggerMode.Pir)
                        pirs.Add(new Triggers.PirMotionTrigger(gpio!, c.Trigger.Pir.Pin, () => pipeline.TriggerFromInput(), logger));
                }
                var set = new CameraSet(pipelines, models, store);
                // Each webhook delivers from the store on its own: a slow receiver holds back only its own queue.
                var webhooks = store is null ? [] : o.Webhooks.Select(w => new Webhooks.WebhookSender(w, store, hookClient, logger)).ToList();
                return await ServeAsync(set, o, endpoints, uploads, updates, new Triggers.TriggerInputs(edges, pirs), provider, notifier, logger, webhooks, ct);
            }
            finally
            {
                // Inputs first (no trigger into a stopping camera), then each camera's run (a no-op when it has already ended),
                // then pins back low, before the controller they use goes; a clip being recorded is saved as it is at stop.
                foreach (var edge in edges) edge.Dispose();
                foreach (var pir in pirs) pir.Dispose();
                foreach (var pipeline in pipelines) await pipeline.DisposeAsync();
                foreach (var rule in rules) rule.Dispose();
                foreach (var recorder in clips) await recorder.DisposeAsync();
            }
        }
        finally
        {
            foreach (var m in own.Values) m.Dispose();
        }
    }

    /// <summary>The latest frame of each camera that runs <paramref name="models"/> (what a candidate model is tried on).</summary>
    private static List<(string Camera, byte[] Frame)> LatestFrames(List<CameraPipeline> pipelines, Models.ModelSwitch models)
    {
        var frames = new List<(string, byte[])>();
        foreach (var p in pipelines.Where(p => p.Models == models))
            if (p.LatestFrame() is { } frame) frames.Add((p.CameraName, frame));
        return frames;
    }

    /// <summary>A camera's own model (<c>Cameras:N:Model</c>): one session, batched over its regions, with the camera's key in every error.</summary>
    private static Models.LoadedModel LoadOwnModel(EdgedOptions o, string key, CameraOptions c, ILogger logger)
    {
        var path = Path.GetFullPath(c.Model!);
        try
        {
            var classifier = LoadClassifier(o, path, logger, maxBatch: Math.Max(1, c.Regions.Length));
            return new Models.LoadedModel(classifier, null,
                Models.ModelIdentity.Of(classifier, Models.ModelIdentity.HashFile(path) ?? "unknown", $"configured for camera {c.Name}", DateTimeOffset.UtcNow));
        }
        catch (ModelLoadException e)
        {
            throw new CliError($"{key}Model: {e.Message}");
        }
    }

    /// <summary>The models directory's lock, or null (said) when another edged holds it or it cannot be locked: then no updates.</summary>
    private static IDisposable? LockModels(Models.ModelStore store, ILogger logger)
    {
        try
        {
            Directory.CreateDirectory(store.Directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Model updates are off: cannot create '{Folder}': {Reason}", store.Directory, e.Message);
            return null;
        }
        switch (ExclusiveFileLock.TryAcquire(Path.Combine(store.Directory, "models.lock"), out var held, out var detail))
        {
            case ExclusiveFileLock.Outcome.Acquired:
                return held;
            case ExclusiveFileLock.Outcome.HeldByAnother:
                logger.LogWarning("Model updates are off: '{Folder}' belongs to another edged{Pid}; give each daemon its own state directory (STATE_DIRECTORY or XDG_STATE_HOME)",
                    store.Directory, detail.Length > 0 ? $" (pid {detail})" : "");
                return null;
            default:
                logger.LogWarning("Model updates are off: cannot lock '{Folder}': {Reason}", store.Directory, detail);
                return null;
        }
    }

    /// <summary>
    /// Serves until the host stops. The host's lifetime is the one owner of shutdown: its console lifetime turns
    /// SIGTERM/SIGINT into StopApplication, the caller's cancellation is routed there too, and ApplicationStopping
    /// stops capture; the pipeline's run then ends with the result writer flushed, and the host is stopped.
    /// </summary>
    private static async Task<int> ServeAsync(CameraSet cameras, EdgedOptions o,
        IReadOnlyList<HttpEndpoint> endpoints, UploadClassifier? uploads, Models.ModelUpdater? updates, Triggers.TriggerInputs inputs, ILoggerProvider provider,
        SystemdNotifier notifier, ILogger logger, IReadOnlyList<Webhooks.WebhookSender> webhooks, CancellationToken ct)
    {
        await using var app = StatusServer.Build(cameras, o, endpoints, uploads, provider, inputs, updates, webhooks);
        var lifetime = app.Lifetime;
        using var fromCaller = ct.UnsafeRegister(static l => ((Microsoft.Extensions.Hosting.IHostApplicationLifetime)l!).StopApplication(), lifetime);
        var stopping = lifetime.ApplicationStopping;
        try
        {
            await app.StartAsync(stopping);
        }
        catch (IOException e)
        {
            throw new CliError($"Http:Url: cannot listen on {string.Join(", ", endpoints)}: {(e.InnerException ?? e).Message}");
        }
        var model = cameras.Models.Current.Identity;
        logger.LogInformation("edged running: model {Model} ({Sha}), {Cameras}, status on {Url}", model.File, model.Short,
            cameras.Cameras.Count == 1 ? "source " + cameras.Description : $"{cameras.Cameras.Count} cameras ({cameras.Description})", string.Join(", ", endpoints));
        // The store is written until every camera has stopped: the last frames' results are kept.
        using var storeStop = new CancellationTokenSource();
        var writing = cameras.Store is { } store ? Task.Run(() => store.RunAsync(storeStop.Token), CancellationToken.None) : Task.CompletedTask;
        var work = cameras.Cameras.Select(c => c.RunAsync(stopping)).ToList();
        var updating = updates?.RunAsync(stopping) ?? Task.CompletedTask;
        var delivering = Task.WhenAll(webhooks.Select(w => Task.Run(() => w.RunAsync(stopping), CancellationToken.None)));
        notifier.Ready($"classifying {cameras.Description}");
        var reporting = ReportHealthAsync(cameras, notifier, logger, stopping);
        var exit = ExitCodes.Ok;
        // A camera whose run ends by itself (a fault in its loop) stops the daemon, so that systemd restarts all of it;
        // a camera whose source is down does not end: it reconnects while the others go on. So does the store's writer
        // ending before it is told to (it retries a store it cannot write; only a fault of its own ends it): results and
        // events would otherwise pile up unwritten while the daemon looked healthy.
        var ended = await Task.WhenAny(cameras.Store is null ? work : [.. work, writing]);
        if (ended == writing)
        {
            logger.LogError("edged stopping: the results store's writer stopped: {Reason}",
                writing.Exception?.InnerException is { } fault ? $"{fault.GetType().Name}: {fault.Message}" : "it ended by itself");
            exit = ExitCodes.Failure;
        }
        lifetime.StopApplication();
        for (var i = 0; i < work.Count; i++)
        {
            try
            {
                await work[i];
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError("edged stopping: classification stopped{Camera}: {Reason}", cameras.Cameras.Count == 1 ? "" : $" on camera {cameras.Cameras[i].CameraName}",
                    $"{e.GetType().Name}: {e.Message}");
                exit = ExitCodes.Failure;
            }
        }
        storeStop.Cancel();
        await writing.ContinueWith(_ => { }, TaskScheduler.Default);
        await reporting;
        try { await delivering; }
        catch (OperationCanceledException) { }
        catch (Exception e) { logger.LogError("webhook delivery stopped: {Reason}", e.Message); }
        try { await updating; }
        catch (Exception e) when (e is not OperationCanceledException) { logger.LogError("model updates stopped: {Reason}", e.Message); }
        // The cameras have stopped: what they did last to the model (a proof on its last frames) is remembered.
        if (updates is not null) await updates.FlushAsync(TimeSpan.FromSeconds(30));
        notifier.Stopping();
        logger.LogInformation("edged stopping: {Classified} frames classified", cameras.Cameras.Sum(c => c.Counters.FramesClassified));
        await app.StopAsync(CancellationToken.None);
        return exit;
    }

    /// <summary>
    /// Feeds the systemd watchdog only while classification works (a daemon whose model fails on every
    /// frame is restarted, not kept "running"), and keeps systemd's status line on what is wrong.
    /// </summary>
    private static async Task ReportHealthAsync(CameraSet cameras, SystemdNotifier notifier, ILogger logger, CancellationToken ct)
    {
        var interval = notifier.WatchdogInterval ?? TimeSpan.FromSeconds(2);
        string? lastStatus = null;
        var starved = false;
        while (!ct.IsCancellationRequested)
        {
            var problems = cameras.Health();
            if (cameras.Alive)
            {
                notifier.Watchdog();
                starved = false;
            }
            else if (!starved && notifier.WatchdogInterval is not null)
            {
                logger.LogError("Not feeding the systemd watchdog: {Problems}", string.Join("; ", problems));
                starved = true;
            }
            var status = problems.Count == 0 ? $"classifying {cameras.Description}" : string.Join("; ", problems);
            if (status != lastStatus)
            {
                notifier.Status(status);
                lastStatus = status;
            }
            try { await Task.Delay(interval, ct); } catch (OperationCanceledException) { }
        }
    }

    private static System.Device.Gpio.GpioController OpenGpio(GpioOptions g)
    {
        try
        {
            return new System.Device.Gpio.GpioController(new System.Device.Gpio.Drivers.LibGpiodDriver(g.Chip ?? 0));
        }
        catch (Exception e) when (e is IOException or PlatformNotSupportedException or DllNotFoundException or InvalidOperationException or UnauthorizedAccessException)
        {
            throw new CliError($"Gpio:Chip: cannot open GPIO{(g.Chip is { } c ? $" chip {c}" : "")} ({e.Message}); is libgpiod installed and is this a board with GPIO?");
        }
    }

    private static async Task<int> CheckAsync(EdgedOptions o, ILoggerFactory logs, CancellationToken ct)
    {
        var logger = logs.CreateLogger("edged");
        Console.Out.WriteLine("config: ok");
        using var classifier = LoadModel(o, logger);
        Console.Out.WriteLine($"model: {classifier.Model.Path}: {classifier.ClassCount} classes, input {string.Join("x", classifier.Model.InputShape(1))}, runs");
        using var http = new HttpClient();
        var cameras = o.CameraList();
        // Every camera: its source gives a frame, and the model it runs (the shared one or its own) classifies it.
        foreach (var (key, c) in cameras)
        {
            var prefix = cameras.Count == 1 ? "" : $"camera {c.Name}: ";
            Core.Inference.Classifier? own = null;
            if (c.Model is not null)
            {
                own = LoadOwnModel(o, key, c, logger).Camera;
                Console.Out.WriteLine($"{prefix}model: {own.Model.Path}: {own.ClassCount} classes, runs");
            }
            using (own)
                await CheckSourceAsync(c.Source, own ?? classifier, prefix, own is null ? "Model:Path" : key + "Model", http, logger, ct);
        }
        return ExitCodes.Ok;
    }

    private static async Task CheckSourceAsync(SourceOptions s, Core.Inference.Classifier classifier, string prefix, string modelKey, HttpClient http, ILogger logger,
        CancellationToken ct)
    {
        var source = SourceFactory(s, http, logger)();
        var wait = Math.Max(s.NoFrameTimeoutMs, 5000);
        await using (source)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(wait);
            try
            {
                await source.OpenAsync(timeout.Token);
                // The first frame that decodes is classified: the model must run on what the camera sends.
                string? lastProblem = null;
                for (var i = 0; i < 5; i++)
                {
                    using var frame = await source.ReadAsync(timeout.Token) ?? throw new CliError($"{prefix}source {source.Description}: ended without a frame");
                    if (i == 0) Console.Out.WriteLine($"{prefix}source: {source.Description}: first frame {frame.Length} bytes");
                    try
                    {
                        var result = classifier.Classify(frame.Data, 1);
                        Console.Out.WriteLine($"{prefix}classified: {result.Top[0].Label} {result.Top[0].Score:0.###} ({result.Image.SourceWidth}x{result.Image.SourceHeight} {result.Image.Format})");
                        return;
                    }
                    catch (Core.Imaging.ImageDecodeException e)
                    {
                        lastProblem = e.Message;
                    }
                    catch (InferenceException e)
                    {
                        throw new CliError($"{modelKey}: the model fails on a frame from {source.Description}: {e.Message}");
                    }
                }
                throw new CliError($"{prefix}source {source.Description}: none of the first 5 frames decodes ({lastProblem})");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new CliError($"{prefix}source {source.Description}: no frame within {wait} ms");
            }
            catch (Exception e) when (e is IOException or HttpRequestException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
            {
                throw new CliError($"{prefix}source {source.Description}: {e.Message}");
            }
        }
    }
}
