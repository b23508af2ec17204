using System.Device.Gpio;
using System.Text.Json;
using Edge.Core.Inference;
using Edge.Daemon.Capture;
using Edge.Daemon.Configuration;
using Edge.Daemon.Pipeline;
using Edge.Daemon.Triggers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Daemon.Tests;

/// <summary>Inputs from Iot.Device.Bindings: a Raspberry Pi camera from structured settings, a PIR motion sensor as a trigger.</summary>
[NonParallelizable]
public class CameraInputTests
{
    private static string Samples => Path.Combine(RepoPaths.Models, "samples");

    [Test]
    public void RpicamSettingsBecomeTheDocumentedRpicamVidOptions()
    {
        // The expectation is written from rpicam-vid's documentation: MJPEG to stdout, no time limit, no preview window,
        // each frame flushed as it is written.
        var command = RpicamCommand.For(new SourceOptions
        {
            Kind = "rpicam", Camera = 1, Width = 1280, Height = 720, Fps = 10, Quality = 75, Hflip = true, Vflip = true,
        });
        Assert.That(command, Is.EqualTo(
            "rpicam-vid --timeout 0 --flush --camera 1 --width 1280 --height 720 --framerate 10 --codec mjpeg --quality 75 --output - --nopreview --hflip --vflip"));
        Assert.That(RpicamCommand.For(new SourceOptions { Kind = "rpicam", Program = "libcamera-vid" }),
            Is.EqualTo("libcamera-vid --timeout 0 --flush --camera 0 --width 640 --height 480 --framerate 5 --codec mjpeg --quality 80 --output - --nopreview"));
        // A fractional rate as rpicam-vid takes it, not rounded.
        Assert.That(RpicamCommand.For(new SourceOptions { Kind = "rpicam", Fps = 7.5 }), Does.Contain(" --framerate 7.5 "));
    }

    [Test]
    public void BadRpicamSettingsAreEachNamed()
    {
        var r = Edged.Run("check", "--Source:Kind=rpicam", "--Source:Program=sh -c reboot", "--Source:Camera=99", "--Source:Quality=0", "--Source:Fps=500",
            "--Source:Width=8");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr, Does.Contain("Source:Program: 'sh -c reboot' is not one of rpicam-vid, libcamera-vid"));
        Assert.That(r.Stderr, Does.Contain("Source:Camera: must be 0..15"));
        Assert.That(r.Stderr, Does.Contain("Source:Quality: must be 1..100"));
        Assert.That(r.Stderr, Does.Contain("Source:Fps: must be 1..240"));
        Assert.That(r.Stderr, Does.Contain("Source:Width/Height: 8x480 is not a camera size"));
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public async Task AnRpicamCameraRunsTheCommandItsSettingsGive()
    {
        Needs.Check(Needs.Ffmpeg);
        // A stand-in rpicam-vid first on PATH: it records its arguments and sends ffmpeg's MJPEG, as the real one would.
        using var dir = new TempDir();
        var bin = Directory.CreateDirectory(dir.File("bin")).FullName;
        var script = Path.Combine(bin, "rpicam-vid");
        File.WriteAllText(script, $"#!/bin/sh\necho \"$@\" > {dir.File("args.txt")}\nexec ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc=size=320x240:rate=10 -f mjpeg -q:v 5 -\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await using var d = new DaemonProcess(["--Source:Kind=rpicam", "--Source:Width=320", "--Source:Height=240", "--Source:Fps=10", "--Source:Vflip=true",
            "--Store:Enabled=false"], new Dictionary<string, string> { ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH") });
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => JsonDocument.Parse(await d.Client.GetStringAsync("api/status")).RootElement.GetProperty("frames_classified").GetInt64() >= 3,
            "frames from the camera classified");
        Assert.That(File.ReadAllText(dir.File("args.txt")).Trim(),
            Is.EqualTo("--timeout 0 --flush --camera 0 --width 320 --height 240 --framerate 10 --codec mjpeg --quality 80 --output - --nopreview --vflip"));
        var status = JsonDocument.Parse(await d.Client.GetStringAsync("api/status")).RootElement;
        Assert.That(status.GetProperty("source").GetProperty("description").GetString(), Does.StartWith("pipe: rpicam-vid --timeout 0"));
    }

    [Test]
    public async Task EachRiseOfAPirSensorClassifiesABurstAndIsCounted()
    {
        var driver = new FakeGpioDriver();
        using var gpio = new GpioController(driver);
        using var classifier = Classifier.Load(Path.Combine(RepoPaths.Models, "colors.onnx"));
        var supervisor = new SourceSupervisor(() => new FolderSource(Path.Combine(Samples, "sky.jpg"), loop: true, fps: 50), TimeSpan.FromSeconds(2), NullLogger.Instance);
        await using var pipeline = new CameraPipeline(classifier, supervisor, null, NullLogger.Instance, new PipelineSettings { Mode = TriggerMode.Pir, Burst = 2 });
        using var pir = new PirMotionTrigger(gpio, 4, () => pipeline.TriggerFromInput(), NullLogger.Instance);
        using var cts = new CancellationTokenSource();
        var run = pipeline.RunAsync(cts.Token);
        await Eventually.Until(() => pipeline.Counters.FramesCaptured >= 5, "frames");
        Assert.That(pipeline.Counters.FramesClassified, Is.Zero, "nothing classified without motion");
        driver.Set(4, PinValue.High);
        Assert.That(pir.MotionNow, Is.True);
        await Eventually.Until(() => pipeline.Counters.FramesClassified == 2, "a burst of two on the rise");
        Assert.That(pipeline.Latest!.Trigger, Is.EqualTo("pir"));
        driver.Set(4, PinValue.Low); // the sensor's hold time ends: no classification on the fall
        driver.Set(4, PinValue.High);
        await Eventually.Until(() => pipeline.Counters.FramesClassified == 4, "another burst on the next rise");
        Assert.That(pir.Accepted, Is.EqualTo(2));
        // A request over HTTP on a PIR camera is recorded as what it is.
        Assert.That(pipeline.Trigger(), Is.True);
        await Eventually.Until(() => pipeline.Counters.FramesClassified == 6, "the requested burst");
        Assert.That(pipeline.Latest!.Trigger, Is.EqualTo("http"));
        var metrics = Http.StatusServer.Metrics(new CameraSet(pipeline), null, new TriggerInputs([], [pir])).Split('\n');
        Assert.That(metrics, Does.Contain("edged_pir_motion_total{pin=\"4\",result=\"accepted\"} 2"));
        cts.Cancel();
        await run;
    }
}
