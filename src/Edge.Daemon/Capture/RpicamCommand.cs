using System.Globalization;
using Edge.Daemon.Configuration;
using Iot.Device.Camera.Settings;

namespace Edge.Daemon.Capture;

/// <summary>
/// The <c>rpicam-vid</c> (or <c>libcamera-vid</c>) command line for a Raspberry Pi camera from structured settings
/// (<c>Source: { Kind: "rpicam", Camera, Width, Height, Fps, Quality, Hflip, Vflip }</c>), built with
/// Iot.Device.Bindings' <see cref="CommandOptionsBuilder"/>: MJPEG on stdout, no preview, no time limit, each frame
/// flushed. Every value is a checked number or one of two program names, so nothing from the settings reaches the shell
/// as text.
/// </summary>
public static class RpicamCommand
{
    /// <summary>The programs that take these options: rpicam-vid (Raspberry Pi OS Bookworm and later) and its older name.</summary>
    public static readonly string[] Programs = ["rpicam-vid", "libcamera-vid"];

    public static string For(SourceOptions s)
    {
        if (!Programs.Contains(s.Program)) throw new ArgumentException($"Source:Program: '{s.Program}' is not one of {string.Join(", ", Programs)}");
        var builder = new CommandOptionsBuilder(false)
            .WithContinuousStreaming(0)
            .WithCamera(s.Camera)
            .WithResolution(s.Width, s.Height)
            // Not WithVideoFramerate, which takes whole frames per second: rpicam-vid takes 7.5 as well.
            .With(CommandOptionAndValue.Create(Command.Framerate, s.Fps.ToString("0.###", CultureInfo.InvariantCulture)))
            .WithMJPEGVideoOptions(s.Quality)
            .WithOutput("-")
            .With(CommandOptionAndValue.Create(Command.Nopreview, ""));
        if (s.Hflip) builder.WithHflip();
        if (s.Vflip) builder.WithVflip();
        return string.Join(' ', [s.Program, .. builder.GetArguments().Select(a => a.Trim())]);
    }

    /// <summary>Problems with the rpicam settings, each naming its key (under <paramref name="key"/>).</summary>
    public static IEnumerable<string> Problems(string key, SourceOptions s)
    {
        var inv = CultureInfo.InvariantCulture;
        if (!Programs.Contains(s.Program)) yield return $"{key}Source:Program: '{Onnx.Metadata.ModelSettings.Clip(s.Program)}' is not one of {string.Join(", ", Programs)}";
        if (s.Camera is < 0 or > 15) yield return $"{key}Source:Camera: must be 0..15 (rpicam-vid --list-cameras shows them), got {s.Camera}";
        if (s.Width is < 16 or > 8192 || s.Height is < 16 or > 8192) yield return $"{key}Source:Width/Height: {s.Width}x{s.Height} is not a camera size";
        if (s.Fps is < 1 or > 240) yield return $"{key}Source:Fps: must be 1..240 for a camera, got {s.Fps.ToString(inv)}";
        if (s.Quality is < 1 or > 100) yield return $"{key}Source:Quality: must be 1..100 (MJPEG quality), got {s.Quality}";
    }
}
