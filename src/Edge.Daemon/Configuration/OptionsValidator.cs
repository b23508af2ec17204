using System.Net;

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
        Check(o.Model.Threads >= 0, "Model:Threads", $"must be 0 (automatic) or more, got {o.Model.Threads}");
        Check(o.Model.TopK is >= 1 and <= 100, "Model:TopK", $"must be 1..100, got {o.Model.TopK}");
        Check(o.Model.Path is null || File.Exists(o.Model.Path), "Model:Path", $"'{o.Model.Path}' does not exist");
        switch (o.Source.Kind.ToLowerInvariant())
        {
            case "pipe":
                Check(!string.IsNullOrWhiteSpace(o.Source.Command), "Source:Command", "is required for Source:Kind=pipe (e.g. \"rpicam-vid -t 0 --codec mjpeg -o -\")");
                break;
            case "http":
                Check(Uri.TryCreate(o.Source.Url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https", "Source:Url", $"'{o.Source.Url}' is not an http(s) URL");
                break;
            case "folder" or "image":
                Check(o.Source.Path is null || Directory.Exists(o.Source.Path) || File.Exists(o.Source.Path), "Source:Path", $"'{o.Source.Path}' does not exist");
                Check(o.Source.Fps is > 0 and <= 1000, "Source:Fps", $"must be in (0, 1000], got {o.Source.Fps}");
                break;
            default:
                errors.Add($"Source:Kind: '{o.Source.Kind}' is not one of pipe, http, folder, image");
                break;
        }
        Check(o.Source.NoFrameTimeoutMs is >= 100 and <= 600_000, "Source:NoFrameTimeoutMs", $"must be 100..600000, got {o.Source.NoFrameTimeoutMs}");
        Check(o.Source.MaxFrameBytes is >= 1024 and <= 256 * 1024 * 1024, "Source:MaxFrameBytes", $"must be 1 KiB..256 MiB, got {o.Source.MaxFrameBytes}");
        Check(o.Trigger.Mode.ToLowerInvariant() is "continuous" or "http", "Trigger:Mode", $"'{o.Trigger.Mode}' is not one of continuous, http");
        Check(o.Trigger.MaxRate is > 0 and <= 1000, "Trigger:MaxRate", $"must be in (0, 1000], got {o.Trigger.MaxRate}");
        Check(o.Trigger.Burst is >= 1 and <= 100, "Trigger:Burst", $"must be 1..100, got {o.Trigger.Burst}");
        Check(!string.IsNullOrWhiteSpace(o.Store.Path), "Store:Path", "must not be empty");
        Check(o.Store.MaxRows >= 1, "Store:MaxRows", $"must be at least 1, got {o.Store.MaxRows}");
        Check(o.Store.MaxAgeDays >= 1, "Store:MaxAgeDays", $"must be at least 1, got {o.Store.MaxAgeDays}");
        Check(o.Http.MaxUploadBytes is >= 1024 and <= 256 * 1024 * 1024, "Http:MaxUploadBytes", $"must be 1 KiB..256 MiB, got {o.Http.MaxUploadBytes}");
        if (!Uri.TryCreate(o.Http.Url, UriKind.Absolute, out var url) || url.Scheme != "http")
            errors.Add($"Http:Url: '{o.Http.Url}' is not an http:// URL");
        else if (!IsLoopback(url) && string.IsNullOrEmpty(o.Http.Token))
            errors.Add($"Http:Token: is required when Http:Url ({o.Http.Url}) is not a loopback address");
        return errors;
    }

    public static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}
