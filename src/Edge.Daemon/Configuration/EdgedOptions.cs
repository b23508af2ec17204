namespace Edge.Daemon.Configuration;

/// <summary>
/// Everything <c>edged run</c> is configured with, bound from <c>edged.json</c>, then environment
/// variables (<c>EDGED_Source__Command=...</c>), then the command line (<c>--Source:Kind=pipe</c>).
/// </summary>
public sealed record EdgedOptions
{
    public ModelOptions Model { get; set; } = new();
    public SourceOptions Source { get; set; } = new();
    public TriggerOptions Trigger { get; set; } = new();
    public StoreOptions Store { get; set; } = new();
    public HttpOptions Http { get; set; } = new();
    public ActionsOptions Actions { get; set; } = new();
    public GpioOptions Gpio { get; set; } = new();
    /// <summary>Named parts of the frame, each classified on its own with its own state (empty: the whole frame).</summary>
    public Regions.RegionOptions[] Regions { get; set; } = [];
    /// <summary>How results become states: unknown below a score or margin, per-class thresholds, debouncing, hysteresis.</summary>
    public Decisions.DecisionOptions Decision { get; set; } = new();
    /// <summary>URLs that each state change is POSTed to (signed when a secret is given), kept in the results database until delivered.</summary>
    public Webhooks.WebhookOptions[] Webhooks { get; set; } = [];
    /// <summary>Frames from before to after each state change saved as clips (off unless Clips:Folder is set).</summary>
    public Clips.ClipOptions Clips { get; set; } = new();
    /// <summary>
    /// Several cameras in one daemon, each with its own source, trigger and regions (empty: the one camera of the
    /// top-level Source, Trigger and Regions).
    /// </summary>
    public CameraOptions[] Cameras { get; set; } = [];

    /// <summary>
    /// The cameras to run, each with the configuration key its settings are under ("Cameras:1:" or, for the
    /// top-level single camera, ""): one list whichever way the configuration was written.
    /// </summary>
    public IReadOnlyList<(string Key, CameraOptions Camera)> CameraList() => Cameras.Length == 0
        ? [("", new CameraOptions { Name = Source.Name, Source = Source, Trigger = Trigger, Regions = Regions })]
        : [.. Cameras.Select((c, i) => ($"Cameras:{i}:", c))];
}

/// <summary>One camera of several (<c>Cameras:N</c>).</summary>
public sealed record CameraOptions
{
    /// <summary>The camera's name in events, webhooks, results, metrics and the page (letters, digits, '-', '_'; unique).</summary>
    public string Name { get; set; } = "";
    public SourceOptions Source { get; set; } = new();
    public TriggerOptions Trigger { get; set; } = new();
    /// <summary>Named parts of this camera's frame, each classified on its own (empty: the whole frame).</summary>
    public Regions.RegionOptions[] Regions { get; set; } = [];
    /// <summary>A model of this camera's own (fixed: model updates replace only Model:Path's); empty = the daemon's model, shared.</summary>
    public string? Model { get; set; }
}

public sealed record GpioOptions
{
    /// <summary>gpiochip number (libgpiod); default 0. Raspberry Pi 5 exposes the header on gpiochip4 on older kernels, gpiochip0 on newer.</summary>
    /// <remarks>System.Device.Gpio's driver auto-detection pulls in code with a trim warning, so the driver is always named.</remarks>
    public int? Chip { get; set; }
}

public sealed record ActionsOptions
{
    public RuleOptions[] Rules { get; set; } = [];
    public SnapshotOptions Snapshots { get; set; } = new();
}

/// <summary>Label with score ≥ MinScore → Pin high for DurationMs.</summary>
public sealed record RuleOptions
{
    public string Label { get; set; } = "";
    public float MinScore { get; set; } = 0.5f;
    public int Pin { get; set; } = -1;
    public int DurationMs { get; set; } = 500;
    /// <summary>The region whose results drive the pin (empty: every region, or the whole frame).</summary>
    public string? Region { get; set; }
    /// <summary>The camera whose results drive the pin (empty: every camera).</summary>
    public string? Camera { get; set; }
}

public sealed record SnapshotOptions
{
    /// <summary>Folder for snapshot JPEGs; empty = no snapshots.</summary>
    public string? Folder { get; set; }
    /// <summary>Only results whose best class is this label (empty = every result).</summary>
    public string? Label { get; set; }
    public float MinScore { get; set; }
    public int MaxFiles { get; set; } = 1000;
    public int MinFreeMb { get; set; } = 100;
}

public sealed record GpioInputOptions
{
    public int Pin { get; set; } = -1;
    /// <summary>up, down or none.</summary>
    public string Pull { get; set; } = "up";
    /// <summary>rising, falling or both.</summary>
    public string Edge { get; set; } = "falling";
    public int DebounceMs { get; set; } = 50;
}

public sealed record ModelOptions
{
    /// <summary>ONNX model; empty = the shipped default beside the binary.</summary>
    public string? Path { get; set; }
    public int Threads { get; set; }
    public string[] Providers { get; set; } = [];
    public string? OnnxRuntimeLibrary { get; set; }
    public int TopK { get; set; } = 5;
    /// <summary>Most memory one classification may take (measured when the model loads); a model over it is refused.</summary>
    public int MaxInferenceMb { get; set; } = 1024;
    /// <summary>Largest camera frame accepted, in pixels; checked from the image header before decoding.</summary>
    public long MaxPixels { get; set; } = 40_000_000;
    /// <summary>New models dropped into a folder or posted to the API: checked, swapped in between frames, rolled back on failure.</summary>
    public Models.ModelUpdateOptions Updates { get; set; } = new();
}

public sealed record SourceOptions
{
    /// <summary>The camera's name in events, webhooks, results and metrics (letters, digits, '-', '_'); with Cameras, the camera's Name is used.</summary>
    public string Name { get; set; } = "camera";
    /// <summary>pipe, rpicam, http, v4l2, folder or image.</summary>
    public string Kind { get; set; } = "folder";
    /// <summary>For rpicam: the camera's index (rpicam-vid --list-cameras).</summary>
    public int Camera { get; set; }
    /// <summary>For rpicam: MJPEG quality 1..100.</summary>
    public int Quality { get; set; } = 80;
    /// <summary>For rpicam: mirror the image horizontally / vertically (a camera mounted upside down: both).</summary>
    public bool Hflip { get; set; }
    public bool Vflip { get; set; }
    /// <summary>For rpicam: rpicam-vid, or libcamera-vid on systems older than Raspberry Pi OS Bookworm.</summary>
    public string Program { get; set; } = "rpicam-vid";
    /// <summary>For v4l2: the device.</summary>
    public string Device { get; set; } = "/dev/video0";
    /// <summary>For v4l2 and rpicam: the size asked of the camera (it may choose the nearest it has).</summary>
    public int Width { get; set; } = 640;
    public int Height { get; set; } = 480;
    /// <summary>For pipe: the command whose stdout is MJPEG.</summary>
    public string? Command { get; set; }
    /// <summary>For http: the camera's MJPEG URL.</summary>
    public string? Url { get; set; }
    /// <summary>For folder/image: the path; empty = the shipped sample frames.</summary>
    public string? Path { get; set; }
    /// <summary>For folder: play the files again and again (else watch for new ones).</summary>
    public bool Loop { get; set; } = true;
    /// <summary>For a watched folder: also classify the files already there at start (else only new or changed ones).</summary>
    public bool ProcessExisting { get; set; }
    /// <summary>For a watched folder: a file is read once its size and modification time have not changed for this long (it may still be being written).</summary>
    public int StableMs { get; set; } = 300;
    /// <summary>For folder/image: frames per second; for rpicam: the camera's frame rate.</summary>
    public double Fps { get; set; } = 5;
    /// <summary>Reopen the source when no frame came for this long.</summary>
    public int NoFrameTimeoutMs { get; set; } = 2000;
    public int MaxFrameBytes { get; set; } = 8 * 1024 * 1024;
}

public sealed record TriggerOptions
{
    /// <summary>continuous (every frame, at most MaxRate per second), motion (in the frames), gpio (an input edge: a button, a contact), pir (a PIR motion sensor's output) or http (only on POST /api/trigger). POST /api/trigger works in every mode.</summary>
    public string Mode { get; set; } = "continuous";
    public double MaxRate { get; set; } = 10;
    /// <summary>Frames classified per trigger.</summary>
    public int Burst { get; set; } = 1;
    /// <summary>Average scores over the last N results (1 = off).</summary>
    public int Smoothing { get; set; } = 1;
    public Triggers.MotionSettings Motion { get; set; } = new();
    public GpioInputOptions Gpio { get; set; } = new();
    /// <summary>For Mode=pir: the GPIO line of an HC-SR501-style PIR sensor's output.</summary>
    public PirOptions Pir { get; set; } = new();
}

public sealed record PirOptions
{
    public int Pin { get; set; } = -1;
}

public sealed record StoreOptions
{
    /// <summary>Record results in SQLite (false: results are only served live).</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>SQLite file; unset = edged-results.db in the state directory (systemd's StateDirectory, else ~/.local/state/edge); a relative path is under the working directory. One daemon per file.</summary>
    public string? Path { get; set; }
    public int MaxRows { get; set; } = 100_000;
    public int MaxAgeDays { get; set; } = 30;
    /// <summary>Results kept in memory while the database cannot take them (disk full, unopenable); beyond this the oldest are dropped and counted as lost.</summary>
    public int MaxPending { get; set; } = 10_000;
}

public sealed record HttpOptions
{
    /// <summary>Where the API listens: http://IP:PORT (or localhost); several separated by ';'.</summary>
    public string Url { get; set; } = "http://127.0.0.1:8780";
    /// <summary>Bearer token; required (16+ characters) when any endpoint is not a loopback address.</summary>
    public string? Token { get; set; }
    public int MaxUploadBytes { get; set; } = 10 * 1024 * 1024;
    /// <summary>Largest uploaded image, in pixels (from its header, before decoding).</summary>
    public long MaxUploadPixels { get; set; } = 24_000_000;
    /// <summary>Uploads waiting to be classified; more get 503 with Retry-After.</summary>
    public int MaxQueuedUploads { get; set; } = 4;
}
