using System.CommandLine;
using System.Runtime.InteropServices;
using Edge.Core.Inference;
using Edge.Daemon.Capture;
using Edge.Daemon.Configuration;
using Edge.Daemon.Http;
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

    internal static Classifier LoadModel(EdgedOptions o, ILogger logger)
    {
        OnnxRuntimeLibrary.Configure(o.Model.OnnxRuntimeLibrary, logger);
        try
        {
            return Classifier.Load(o.Model.Path ?? DefaultPaths.DefaultModel,
                new ClassifierOptions { IntraOpThreads = o.Model.Threads, ExecutionProviders = o.Model.Providers, MaxBatch = 1 }, logger: logger);
        }
        catch (ModelLoadException e)
        {
            throw new CliError($"Model:Path: {e.Message}");
        }
    }

    internal static Func<IFrameSource> SourceFactory(SourceOptions s, HttpClient http) => s.Kind.ToLowerInvariant() switch
    {
        "pipe" => () => new PipeMjpegSource(s.Command!, s.MaxFrameBytes),
        "http" => () => new HttpMjpegSource(new Uri(s.Url!), http, s.MaxFrameBytes),
        "v4l2" => () => new Capture.V4l2.V4l2Source(s.Device, s.Width, s.Height),
        "image" => () => new FolderSource(s.Path ?? DefaultPaths.Samples, loop: true, s.Fps),
        _ => () => new FolderSource(s.Path ?? DefaultPaths.Samples, s.Loop, s.Fps),
    };

    private static async Task<int> RunAsync(EdgedOptions o, ILoggerFactory logs, ILoggerProvider provider, CancellationToken ct)
    {
        var logger = logs.CreateLogger("edged");
        using var notifier = new SystemdNotifier();
        using var classifier = LoadModel(o, logger);
        ResultStore? store = null;
        try
        {
            store = new ResultStore(o.Store.Path, o.Store.MaxRows, TimeSpan.FromDays(o.Store.MaxAgeDays));
        }
        catch (StoreUnavailableException e)
        {
            logger.LogError("{Reason}; running without recording results", e.Message);
        }
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var supervisor = new SourceSupervisor(SourceFactory(o.Source, http), TimeSpan.FromMilliseconds(o.Source.NoFrameTimeoutMs), logger,
            restartWhenEnded: o.Source.Kind is not ("folder" or "image") || o.Source.Loop);
        var mode = Enum.Parse<TriggerMode>(o.Trigger.Mode, ignoreCase: true);
        using var gpio = mode == TriggerMode.Gpio || o.Actions.Rules.Length > 0 ? OpenGpio(o.Gpio) : null;
        var rules = o.Actions.Rules.Select(r => new Actions.GpioOutputRule(gpio!, r.Label, r.MinScore, r.Pin, TimeSpan.FromMilliseconds(r.DurationMs), logger)).ToList();
        var snapshots = string.IsNullOrEmpty(o.Actions.Snapshots.Folder) ? null
            : new Actions.SnapshotWriter(o.Actions.Snapshots.Folder, o.Actions.Snapshots.MaxFiles, o.Actions.Snapshots.MinFreeMb * 1024L * 1024, logger,
                string.IsNullOrEmpty(o.Actions.Snapshots.Label) ? null : o.Actions.Snapshots.Label, o.Actions.Snapshots.MinScore);
        var m = o.Trigger.Motion;
        var pipeline = new ClassificationPipeline(classifier, supervisor, store, logger, new PipelineSettings
        {
            Mode = mode,
            MaxRate = o.Trigger.MaxRate,
            Burst = o.Trigger.Burst,
            TopK = o.Model.TopK,
            Smoothing = o.Trigger.Smoothing,
            Motion = m,
            MotionCooldown = TimeSpan.FromMilliseconds(m.CooldownMs),
            Rules = rules,
            Snapshots = snapshots,
        });
        using var edge = mode == TriggerMode.Gpio
            ? new Triggers.GpioEdgeTrigger(gpio!, o.Trigger.Gpio.Pin,
                o.Trigger.Gpio.Pull.ToLowerInvariant() switch { "down" => System.Device.Gpio.PinMode.InputPullDown, "none" => System.Device.Gpio.PinMode.Input, _ => System.Device.Gpio.PinMode.InputPullUp },
                o.Trigger.Gpio.Edge.ToLowerInvariant() switch
                {
                    "rising" => System.Device.Gpio.PinEventTypes.Rising,
                    "both" => System.Device.Gpio.PinEventTypes.Rising | System.Device.Gpio.PinEventTypes.Falling,
                    _ => System.Device.Gpio.PinEventTypes.Falling,
                },
                TimeSpan.FromMilliseconds(o.Trigger.Gpio.DebounceMs), pipeline.Trigger, logger)
            : null;

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });

        await using var app = StatusServer.Build(pipeline, o, provider);
        try
        {
            await app.StartAsync(stop.Token);
        }
        catch (IOException e)
        {
            throw new CliError($"Http:Url: cannot listen on {o.Http.Url}: {e.Message}");
        }
        logger.LogInformation("edged running: model {Model}, source {Source}, status on {Url}", classifier.Model.Path, supervisor.Status.Description, o.Http.Url);
        var work = pipeline.RunAsync(stop.Token);
        notifier.Ready($"classifying {supervisor.Status.Description}");
        if (notifier.WatchdogInterval is { } interval)
            _ = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    notifier.Watchdog();
                    try { await Task.Delay(interval, stop.Token); } catch (OperationCanceledException) { }
                }
            }, CancellationToken.None);
        await work;
        notifier.Stopping();
        logger.LogInformation("edged stopping: {Classified} frames classified", pipeline.Counters.FramesClassified);
        await app.StopAsync(CancellationToken.None);
        foreach (var rule in rules) rule.Dispose();
        store?.Dispose();
        return ExitCodes.Ok;
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
        using (var classifier = LoadModel(o, logger))
            Console.Out.WriteLine($"model: {classifier.Model.Path}: {classifier.ClassCount} classes, input {string.Join("x", classifier.Model.InputShape(1))}");
        using var http = new HttpClient();
        var source = SourceFactory(o.Source, http)();
        await using (source)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(Math.Max(o.Source.NoFrameTimeoutMs, 5000));
            try
            {
                await source.OpenAsync(timeout.Token);
                using var frame = await source.ReadAsync(timeout.Token) ?? throw new CliError($"source {source.Description}: ended without a frame");
                Console.Out.WriteLine($"source: {source.Description}: first frame {frame.Length} bytes");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new CliError($"source {source.Description}: no frame within {Math.Max(o.Source.NoFrameTimeoutMs, 5000)} ms");
            }
            catch (Exception e) when (e is IOException or HttpRequestException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
            {
                throw new CliError($"source {source.Description}: {e.Message}");
            }
        }
        return ExitCodes.Ok;
    }
}
