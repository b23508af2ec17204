namespace Edge.Daemon.Configuration;

/// <summary>Checks options at start; each problem names its configuration key.</summary>
public static class OptionsValidator
{
    public static List<string> Validate(EdgedOptions o)
    {
        var errors = new List<string>();
        void Check(bool ok, string key, string message)
        {
            if (!ok) errors.Add($"{key}: {message}");
        }
        Check(o.Model.Threads is >= 0 and <= Core.Inference.ClassifierOptions.MaxThreads, "Model:Threads",
            $"must be 0 (automatic: the cores, at most 4) .. {Core.Inference.ClassifierOptions.MaxThreads}, got {o.Model.Threads}");
        Check(o.Model.MaxInferenceMb is >= 16 and <= 1_048_576, "Model:MaxInferenceMb", $"must be 16..1048576, got {o.Model.MaxInferenceMb}");
        Check(o.Model.MaxPixels is >= 1024 and <= 1_000_000_000, "Model:MaxPixels", $"must be 1024..1000000000, got {o.Model.MaxPixels}");
        Check(o.Model.TopK is >= 1 and <= 100, "Model:TopK", $"must be 1..100, got {o.Model.TopK}");
        Check(o.Model.Path is null || File.Exists(o.Model.Path), "Model:Path", $"'{o.Model.Path}' does not exist");
        var updates = o.Model.Updates;
        Check(updates.Folder is null || !string.IsNullOrWhiteSpace(updates.Folder), "Model:Updates:Folder", "must not be empty (leave it out for models/incoming in the state directory, or set Model:Updates:Enabled=false)");
        Check(updates.MaxMb is >= 1 and <= 2047, "Model:Updates:MaxMb", $"must be 1..2047, got {updates.MaxMb}");
        Check(updates.ProbationFrames is >= 0 and <= 1_000_000, "Model:Updates:ProbationFrames", $"must be 0..1000000, got {updates.ProbationFrames}");
        Check(updates.RollbackFailures is >= 1 and <= 1_000_000, "Model:Updates:RollbackFailures", $"must be 1..1000000, got {updates.RollbackFailures}");
        Check(updates.ProbationFrames == 0 || updates.RollbackFailures <= updates.ProbationFrames, "Model:Updates:RollbackFailures",
            $"must not exceed Model:Updates:ProbationFrames ({updates.ProbationFrames}), got {updates.RollbackFailures}");
        Check(updates.StableMs is >= 0 and <= 600_000, "Model:Updates:StableMs", $"must be 0..600000, got {updates.StableMs}");
        var cameras = o.CameraList();
        ValidateCameras(o, cameras, errors);
        for (var i = 0; i < o.Actions.Rules.Length; i++)
        {
            var r = o.Actions.Rules[i];
            Check(!string.IsNullOrWhiteSpace(r.Label), $"Actions:Rules:{i}:Label", "is required");
            Check(r.Pin >= 0, $"Actions:Rules:{i}:Pin", "is required (a GPIO line number)");
            Check(r.MinScore is >= 0 and <= 1, $"Actions:Rules:{i}:MinScore", $"must be 0..1, got {r.MinScore}");
            Check(r.DurationMs is >= 1 and <= 3_600_000, $"Actions:Rules:{i}:DurationMs", $"must be 1..3600000, got {r.DurationMs}");
            var ruled = string.IsNullOrEmpty(r.Camera) ? cameras : [.. cameras.Where(c => c.Camera.Name == r.Camera)];
            if (ruled.Count == 0)
                errors.Add($"Actions:Rules:{i}:Camera: '{Clip(r.Camera!)}' is not one of the Cameras ({string.Join(", ", cameras.Select(c => c.Camera.Name))})");
            var regions = ruled.SelectMany(c => c.Camera.Regions).Select(g => g.Name).Distinct().ToList();
            if (ruled.Count > 0 && !string.IsNullOrEmpty(r.Region) && !regions.Contains(r.Region))
                errors.Add($"Actions:Rules:{i}:Region: '{Clip(r.Region)}' is not one of the {(string.IsNullOrEmpty(r.Camera) ? "" : r.Camera + " camera's ")}Regions " +
                    $"({(regions.Count == 0 ? "none configured" : string.Join(", ", regions))})");
        }
        // Each GPIO line has one job: two rules on a pin would cut each other's pulses short, and an input driven as an output
        // is a short circuit waiting to happen.
        var pins = o.Actions.Rules.Select((r, i) => (Pin: r.Pin, Key: $"Actions:Rules:{i}:Pin"))
            .Concat(cameras.Where(x => x.Camera.Trigger.Mode.Equals("gpio", StringComparison.OrdinalIgnoreCase)).Select(x => (x.Camera.Trigger.Gpio.Pin, Key: $"{x.Key}Trigger:Gpio:Pin")))
            .Concat(cameras.Where(x => x.Camera.Trigger.Mode.Equals("pir", StringComparison.OrdinalIgnoreCase)).Select(x => (x.Camera.Trigger.Pir.Pin, Key: $"{x.Key}Trigger:Pir:Pin")))
            .Where(x => x.Pin >= 0).ToList();
        foreach (var group in pins.GroupBy(x => x.Pin).Where(g => g.Count() > 1))
            errors.Add($"{group.Skip(1).First().Key}: pin {group.Key} is also {group.First().Key}; each GPIO line has one use");
        ValidateDecision(o.Decision, errors);
        ValidateWebhooks(o, errors);
        ValidateClips(o, cameras, errors);
        foreach (var (key, c) in cameras)
        {
            if (string.IsNullOrEmpty(o.Actions.Snapshots.Folder) || c.Source.Kind.ToLowerInvariant() is not ("folder" or "image")) continue;
            var snapshots = Path.GetFullPath(o.Actions.Snapshots.Folder).TrimEnd('/') + "/";
            var source = Path.GetFullPath(c.Source.Path ?? Cli.DefaultPaths.Samples).TrimEnd('/') + "/";
            Check(!snapshots.StartsWith(source, StringComparison.Ordinal) && !source.StartsWith(snapshots, StringComparison.Ordinal), "Actions:Snapshots:Folder",
                $"'{o.Actions.Snapshots.Folder}' overlaps {key}Source:Path '{c.Source.Path}': snapshots would become frames again");
        }
        Check(o.Actions.Snapshots.MaxFiles >= 1, "Actions:Snapshots:MaxFiles", $"must be at least 1, got {o.Actions.Snapshots.MaxFiles}");
        Check(o.Actions.Snapshots.MinFreeMb >= 0, "Actions:Snapshots:MinFreeMb", $"must be 0 or more, got {o.Actions.Snapshots.MinFreeMb}");
        Check(!o.Store.Enabled || o.Store.Path is null || !string.IsNullOrWhiteSpace(o.Store.Path), "Store:Path", "must not be empty (leave it out for the state directory, or set Store:Enabled=false to run without recording)");
        Check(o.Store.MaxPending is >= 10 and <= 1_000_000, "Store:MaxPending", $"must be 10..1000000, got {o.Store.MaxPending}");
        Check(o.Store.MaxRows >= 1, "Store:MaxRows", $"must be at least 1, got {o.Store.MaxRows}");
        Check(o.Store.MaxAgeDays >= 1, "Store:MaxAgeDays", $"must be at least 1, got {o.Store.MaxAgeDays}");
        Check(o.Http.MaxUploadBytes is >= 1024 and <= 256 * 1024 * 1024, "Http:MaxUploadBytes", $"must be 1 KiB..256 MiB, got {o.Http.MaxUploadBytes}");
        var endpoints = Http.HttpEndpoints.Parse(o.Http.Url, errors);
        var exposed = endpoints.Where(e => !e.IsLoopback).ToList();
        if (exposed.Count > 0)
        {
            if (string.IsNullOrEmpty(o.Http.Token))
                errors.Add($"Http:Token: is required when Http:Url listens beyond this machine ({string.Join(", ", exposed)})");
            else if (o.Http.Token.Length < 16)
                errors.Add($"Http:Token: must be at least 16 characters when Http:Url listens beyond this machine (it is {o.Http.Token.Length}); e.g. the output of 'openssl rand -hex 16'");
        }
        if (!string.IsNullOrEmpty(o.Http.Token) && o.Http.Token.Any(c => c <= ' ' || c > '~'))
            errors.Add("Http:Token: must be printable ASCII without spaces (it is sent in an HTTP header)");
        Check(o.Http.MaxUploadPixels is >= 1024 and <= 1_000_000_000, "Http:MaxUploadPixels", $"must be 1024..1000000000, got {o.Http.MaxUploadPixels}");
        Check(o.Http.MaxQueuedUploads is >= 0 and <= 64, "Http:MaxQueuedUploads", $"must be 0..64, got {o.Http.MaxQueuedUploads}");
        return errors;
    }

    /// <summary>Most regions per camera: each costs an inference per classified frame.</summary>
    public const int MaxRegions = Core.Imaging.Preprocessor.MaxPlans;

    /// <summary>Most cameras in one daemon.</summary>
    public const int MaxCameras = 16;

    private static void ValidateCameras(EdgedOptions o, IReadOnlyList<(string Key, CameraOptions Camera)> cameras, List<string> errors)
    {
        if (o.Cameras.Length > 0)
        {
            // Settings that would be silently ignored next to Cameras are refused, naming where they belong.
            if (o.Source != new SourceOptions()) errors.Add("Source: with Cameras, each camera has its own (Cameras:N:Source); remove the top-level Source");
            if (o.Trigger != new TriggerOptions()) errors.Add("Trigger: with Cameras, each camera has its own (Cameras:N:Trigger); remove the top-level Trigger");
            if (o.Regions.Length > 0) errors.Add("Regions: with Cameras, each camera has its own (Cameras:N:Regions); remove the top-level Regions");
            if (o.Cameras.Length > MaxCameras) errors.Add($"Cameras: at most {MaxCameras}, got {o.Cameras.Length}");
        }
        // Cameras sharing the model share its resize plans (one per crop size, at most MaxRegions): more crops than that
        // would rebuild plans on every frame.
        var sharedCrops = cameras.Where(x => x.Camera.Model is null).Sum(x => Math.Max(1, x.Camera.Regions.Length));
        if (cameras.Count > 1 && sharedCrops > MaxRegions)
            errors.Add($"Cameras: the cameras sharing Model:Path classify {sharedCrops} regions (a camera without regions counts as one) and at most {MaxRegions} " +
                "can share a model; give some cameras a Model of their own");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, c) in cameras)
        {
            if (key.Length > 0 && c.Source.Name != new SourceOptions().Name && c.Source.Name != c.Name)
                errors.Add($"{key}Source:Name: the camera's name is {key}Name ('{Clip(c.Name)}'); remove Source:Name");
            // The single camera's name is Source:Name; each of several cameras has its own Name.
            var nameKey = key.Length == 0 ? "Source:Name" : key + "Name";
            if (!IsName(c.Name)) errors.Add($"{nameKey}: '{Clip(c.Name)}' must be 1-32 letters, digits, '-' or '_'");
            else if (!names.Add(c.Name)) errors.Add($"{nameKey}: '{c.Name}' is used twice");
            if (c.Model is not null && !File.Exists(c.Model)) errors.Add($"{key}Model: '{Clip(c.Model)}' does not exist");
            ValidateSource(key, c.Source, errors);
            ValidateTrigger(key, c.Trigger, errors);
            ValidateRegions(key, c.Regions, errors);
        }
    }

    private static void ValidateSource(string key, SourceOptions s, List<string> errors)
    {
        void Check(bool ok, string name, string message)
        {
            if (!ok) errors.Add($"{key}Source:{name}: {message}");
        }
        switch (s.Kind.ToLowerInvariant())
        {
            case "pipe":
                Check(!string.IsNullOrWhiteSpace(s.Command), "Command", $"is required for {key}Source:Kind=pipe (e.g. \"rpicam-vid -t 0 --codec mjpeg -o -\")");
                break;
            case "rpicam":
                errors.AddRange(Capture.RpicamCommand.Problems(key, s));
                break;
            case "http":
                Check(Uri.TryCreate(s.Url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https", "Url", $"'{s.Url}' is not an http(s) URL");
                break;
            case "v4l2":
                Check(s.Device.StartsWith("/dev/", StringComparison.Ordinal), "Device", $"'{s.Device}' is not a /dev path");
                Check(s.Width is >= 16 and <= 8192 && s.Height is >= 16 and <= 8192, "Width/Height", $"{s.Width}x{s.Height} is not a camera size");
                break;
            case "folder" or "image":
                Check(s.Path is null || Directory.Exists(s.Path) || File.Exists(s.Path), "Path", $"'{s.Path}' does not exist");
                Check(s.Fps is >= 0.001 and <= 1000, "Fps", $"must be 0.001..1000 (frames per second), got {s.Fps}");
                Check(s.StableMs is >= 0 and <= 600_000, "StableMs", $"must be 0..600000, got {s.StableMs}");
                break;
            default:
                errors.Add($"{key}Source:Kind: '{s.Kind}' is not one of pipe, rpicam, http, v4l2, folder, image");
                break;
        }
        Check(s.NoFrameTimeoutMs is >= 100 and <= 600_000, "NoFrameTimeoutMs", $"must be 100..600000, got {s.NoFrameTimeoutMs}");
        Check(s.MaxFrameBytes is >= 1024 and <= 256 * 1024 * 1024, "MaxFrameBytes", $"must be 1 KiB..256 MiB, got {s.MaxFrameBytes}");
    }

    private static void ValidateTrigger(string key, TriggerOptions t, List<string> errors)
    {
        void Check(bool ok, string name, string message)
        {
            if (!ok) errors.Add($"{key}Trigger:{name}: {message}");
        }
        var mode = t.Mode.ToLowerInvariant();
        Check(mode is "continuous" or "motion" or "gpio" or "pir" or "http", "Mode", $"'{t.Mode}' is not one of continuous, motion, gpio, pir, http");
        if (mode == "pir") Check(t.Pir.Pin >= 0, "Pir:Pin", $"is required for {key}Trigger:Mode=pir (the sensor's output line)");
        Check(t.Smoothing is >= 1 and <= 100, "Smoothing", $"must be 1..100, got {t.Smoothing}");
        var m = t.Motion;
        Check(m.RoiX is >= 0 and < 1 && m.RoiY is >= 0 and < 1 && m.RoiWidth is > 0 and <= 1 && m.RoiHeight is > 0 and <= 1,
            "Motion:Roi*", "RoiX/RoiY must be in [0, 1) and RoiWidth/RoiHeight in (0, 1]");
        Check(m.RegionThreshold is > 0 and <= 1, "Motion:RegionThreshold", $"must be in (0, 1], got {m.RegionThreshold}");
        Check(m.CooldownMs >= 0, "Motion:CooldownMs", $"must be 0 or more, got {m.CooldownMs}");
        Check(m.Width is >= 8 and <= 640 && m.Height is >= 8 and <= 480, "Motion:Width/Height", $"{m.Width}x{m.Height} is not 8x8..640x480");
        if (mode == "gpio")
        {
            Check(t.Gpio.Pin >= 0, "Gpio:Pin", $"is required for {key}Trigger:Mode=gpio");
            Check(t.Gpio.Pull.ToLowerInvariant() is "up" or "down" or "none", "Gpio:Pull", $"'{t.Gpio.Pull}' is not one of up, down, none");
            Check(t.Gpio.Edge.ToLowerInvariant() is "rising" or "falling" or "both", "Gpio:Edge", $"'{t.Gpio.Edge}' is not one of rising, falling, both");
            Check(t.Gpio.DebounceMs is >= 0 and <= 10_000, "Gpio:DebounceMs", $"must be 0..10000, got {t.Gpio.DebounceMs}");
        }
        Check(t.MaxRate is > 0 and <= 1000, "MaxRate", $"must be in (0, 1000], got {t.MaxRate}");
        Check(t.Burst is >= 1 and <= 100, "Burst", $"must be 1..100, got {t.Burst}");
    }

    private static void ValidateRegions(string key, Regions.RegionOptions[] regions, List<string> errors)
    {
        if (regions.Length > MaxRegions) errors.Add($"{key}Regions: at most {MaxRegions} regions, got {regions.Length}");
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < regions.Length; i++)
        {
            var r = regions[i];
            // Names appear in URLs, metrics labels, file names and the page: a plain word keeps them safe everywhere.
            if (!IsName(r.Name)) errors.Add($"{key}Regions:{i}:Name: '{Clip(r.Name)}' must be 1-32 letters, digits, '-' or '_'");
            else if (!names.Add(r.Name)) errors.Add($"{key}Regions:{i}:Name: '{r.Name}' is used twice");
            else if (r.Name == Regions.Region.WholeFrameName && !Regions.Region.From(r).IsWholeFrame)
                errors.Add($"{key}Regions:{i}:Name: '{r.Name}' is the name of the whole frame; choose another");
            if (Regions.Region.From(r).Problem() is { } p) errors.Add($"{key}Regions:{i}: {p}");
        }
    }

    private static void ValidateDecision(Decisions.DecisionOptions d, List<string> errors)
    {
        void Check(bool ok, string key, string message)
        {
            if (!ok) errors.Add($"Decision:{key}: {message}");
        }
        Check(d.MinScore is >= 0 and <= 1, "MinScore", $"must be 0..1, got {d.MinScore}");
        Check(d.MinMargin is >= 0 and <= 1, "MinMargin", $"must be 0..1, got {d.MinMargin}");
        Check(d.Consecutive is >= 1 and <= 10_000, "Consecutive", $"must be 1..10000, got {d.Consecutive}");
        Check(d.MinStateMs is >= 0 and <= 86_400_000, "MinStateMs", $"must be 0..86400000 (a day), got {d.MinStateMs}");
        Check(d.MaxEvents is >= 1 and <= 10_000_000, "MaxEvents", $"must be 1..10000000, got {d.MaxEvents}");
        var labels = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < d.Classes.Length; i++)
        {
            var c = d.Classes[i];
            Check(!string.IsNullOrEmpty(c.Label), $"Classes:{i}:Label", "is required");
            Check(string.IsNullOrEmpty(c.Label) || labels.Add(c.Label), $"Classes:{i}:Label", $"'{Clip(c.Label)}' is given twice");
            Check(c.MinScore is >= 0 and <= 1, $"Classes:{i}:MinScore", $"must be 0..1, got {c.MinScore}");
        }
        if (d.LeaveScore is { } leave)
        {
            Check(leave is >= 0 and <= 1, "LeaveScore", $"must be 0..1, got {leave}");
            // Leaving above the entry threshold would flip a state back and forth on the same scores.
            var lowestEnter = d.Classes.Select(c => c.MinScore).Append(d.MinScore).Min();
            Check(leave <= lowestEnter, "LeaveScore", $"must not exceed the scores that enter a state (MinScore and Classes' MinScore; lowest {lowestEnter}), got {leave}");
        }
    }

    private static void ValidateWebhooks(EdgedOptions o, List<string> errors)
    {
        if (o.Webhooks.Length > 16) errors.Add($"Webhooks: at most 16, got {o.Webhooks.Length}");
        if (o.Webhooks.Length > 0 && !o.Store.Enabled)
            errors.Add("Webhooks: need Store:Enabled=true (events wait for delivery in the results database)");
        var urls = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < o.Webhooks.Length; i++)
        {
            var w = o.Webhooks[i];
            var key = $"Webhooks:{i}";
            if (!Uri.TryCreate(w.Url, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https"))
                errors.Add($"{key}:Url: '{Clip(w.Url)}' is not an http(s) URL");
            else if (!urls.Add(w.Url)) errors.Add($"{key}:Url: '{Clip(w.Url)}' is given twice");
            if (w.Secret is not null && w.Secret.Length is < 16 or > 1024)
                errors.Add($"{key}:Secret: must be 16..1024 characters (e.g. the output of 'openssl rand -hex 32'), got {w.Secret.Length}");
            if (w.TimeoutMs is < 100 or > 300_000) errors.Add($"{key}:TimeoutMs: must be 100..300000, got {w.TimeoutMs}");
            if (w.BackoffMs is < 10 or > 600_000) errors.Add($"{key}:BackoffMs: must be 10..600000, got {w.BackoffMs}");
            if (w.MaxBackoffMs < w.BackoffMs || w.MaxBackoffMs > 3_600_000) errors.Add($"{key}:MaxBackoffMs: must be BackoffMs ({w.BackoffMs})..3600000, got {w.MaxBackoffMs}");
            if (w.MaxRefusals is < 1 or > 1000) errors.Add($"{key}:MaxRefusals: must be 1..1000, got {w.MaxRefusals}");
            if (w.Results.Length > 64) errors.Add($"{key}:Results: at most 64 classes, got {w.Results.Length}");
            var classes = new HashSet<string>(StringComparer.Ordinal);
            for (var j = 0; j < Math.Min(w.Results.Length, 64); j++)
                if (string.IsNullOrEmpty(w.Results[j])) errors.Add($"{key}:Results:{j}: must name a class (or unknown)");
                else if (!classes.Add(w.Results[j])) errors.Add($"{key}:Results:{j}: '{Clip(w.Results[j])}' is given twice");
            if (!w.StateChanges && w.Results.Length == 0) errors.Add($"{key}:StateChanges: is false and Results names no class: the webhook would be sent nothing");
        }
    }

    private static void ValidateClips(EdgedOptions o, IReadOnlyList<(string Key, CameraOptions Camera)> cameras, List<string> errors)
    {
        var c = o.Clips;
        if (c.Folder is null) return;
        if (string.IsNullOrWhiteSpace(c.Folder)) errors.Add("Clips:Folder: must not be empty (leave it out for no clips)");
        else
            foreach (var (key, camera) in cameras.Where(x => x.Camera.Source.Kind.ToLowerInvariant() is "folder" or "image"))
            {
                var clips = Path.GetFullPath(c.Folder).TrimEnd('/') + "/";
                var source = Path.GetFullPath(camera.Source.Path ?? Cli.DefaultPaths.Samples).TrimEnd('/') + "/";
                if (clips.StartsWith(source, StringComparison.Ordinal) || source.StartsWith(clips, StringComparison.Ordinal))
                    errors.Add($"Clips:Folder: '{Clip(c.Folder)}' overlaps {key}Source:Path: clips would become frames again");
            }
        if (c.PreSeconds is < 0 or > 300) errors.Add($"Clips:PreSeconds: must be 0..300, got {c.PreSeconds}");
        if (c.PostSeconds is < 0 or > 300) errors.Add($"Clips:PostSeconds: must be 0..300, got {c.PostSeconds}");
        if (c.BufferMb is < 1 or > 1024) errors.Add($"Clips:BufferMb: must be 1..1024, got {c.BufferMb}");
        // Each camera keeps a ring of its own: the total is what the device must have.
        else if (cameras.Count is var n and > 1 && (long)n * c.BufferMb > 1024)
            errors.Add($"Clips:BufferMb: each of the {n} cameras keeps a ring of it: {n} x {c.BufferMb} MiB is over 1024 MiB in all");
        if (c.MaxClips is < 1 or > 100_000) errors.Add($"Clips:MaxClips: must be 1..100000, got {c.MaxClips}");
        if (c.MinFreeMb < 0) errors.Add($"Clips:MinFreeMb: must be 0 or more, got {c.MinFreeMb}");
    }

    private static bool IsName(string s) => s.Length is >= 1 and <= 32 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    private static string Clip(string s) => Onnx.Metadata.ModelSettings.Clip(s);
}
