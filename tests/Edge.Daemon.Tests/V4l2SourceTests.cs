using System.Diagnostics;
using System.Runtime.InteropServices;
using Edge.Core.Imaging;
using Edge.Daemon.Capture.V4l2;

namespace Edge.Daemon.Tests;

public class V4l2SourceTests
{
    private static byte[] Ffmpeg(string args)
    {
        Needs.Check(Needs.Ffmpeg);
        var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("ffmpeg -hide_banner -loglevel error " + args);
        using var p = Process.Start(psi)!;
        using var ms = new MemoryStream();
        p.StandardOutput.BaseStream.CopyTo(ms);
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.Zero);
        return ms.ToArray();
    }

    [Test]
    public void AbiSizesAndRequestCodesMatchTheKernelHeaders()
    {
        Assert.That(Marshal.SizeOf<V4l2Abi.Capability>(), Is.EqualTo(104));
        Assert.That(Marshal.SizeOf<V4l2Abi.Format>(), Is.EqualTo(208));
        Assert.That(Marshal.SizeOf<V4l2Abi.RequestBuffersArgs>(), Is.EqualTo(20));
        Assert.That(Marshal.SizeOf<V4l2Abi.Buffer>(), Is.EqualTo(88));
        // The values of linux/videodev2.h's macros on 64-bit Linux.
        Assert.That(V4l2Abi.QueryCap, Is.EqualTo(0x80685600u));
        Assert.That(V4l2Abi.SetFormat, Is.EqualTo(0xC0D05605u));
        Assert.That(V4l2Abi.RequestBuffers, Is.EqualTo(0xC0145608u));
        Assert.That(V4l2Abi.QueryBuffer, Is.EqualTo(0xC0585609u));
        Assert.That(V4l2Abi.QueueBuffer, Is.EqualTo(0xC058560Fu));
        Assert.That(V4l2Abi.DequeueBuffer, Is.EqualTo(0xC0585611u));
        Assert.That(V4l2Abi.StreamOn, Is.EqualTo(0x40045612u));
        Assert.That(V4l2Abi.StreamOff, Is.EqualTo(0x40045613u));
        Assert.That(V4l2Abi.Mjpeg, Is.EqualTo(0x47504A4Du));
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public async Task MjpegBuffersAreReplayedAsFrames()
    {
        // Real MJPEG frames from ffmpeg's test source, split by the same reader the pipe source uses.
        var stream = Ffmpeg("-f lavfi -i testsrc=size=320x240 -frames:v 6 -f mjpeg -q:v 5 -");
        var reader = new Capture.MjpegFrameReader(new MemoryStream(stream));
        var frames = new List<byte[]>();
        for (var f = reader.ReadFrame(); !f.IsEmpty; f = reader.ReadFrame()) frames.Add(f.ToArray());
        Assert.That(frames, Has.Count.EqualTo(6));

        var device = new FakeV4l2Device(frames, offersMjpeg: true, 320, 240);
        var source = new V4l2Source("/dev/video0", 320, 240, device);
        await source.OpenAsync(default);
        Assert.That(source.PixelFormat, Is.EqualTo(V4l2Abi.Mjpeg));
        Assert.That(source.Card, Is.EqualTo("Fake UVC Camera"));
        Assert.That(device.Calls, Is.EqualTo(new[] { "QUERYCAP", "S_FMT MJPG", "REQBUFS 4", "STREAMON" }));
        for (var i = 0; i < 6; i++)
        {
            using var frame = await source.ReadAsync(default);
            Assert.That(frame!.ToArray(), Is.EqualTo(frames[i]), $"frame {i}");
        }
        await source.DisposeAsync();
        Assert.That(device.Calls[^1], Is.EqualTo("STREAMOFF"));
        Assert.That(device.Unmapped, Is.EqualTo(4));
        Assert.That(device.Closed, Is.True);
    }

    [Test]
    public async Task AnEmptyDequeueAfterPollIsWaitedOutNotTakenForTheEnd()
    {
        // EAGAIN from VIDIOC_DQBUF after poll said "readable" means "not yet", not "the camera ended":
        // the source waits for the frame instead of handing the supervisor a null that makes it reopen the camera.
        byte[][] frames = [TestImages.SolidJpeg(32, 24, 10, 20, 30), TestImages.SolidJpeg(32, 24, 40, 50, 60)];
        var device = new FakeV4l2Device(frames, offersMjpeg: true, 32, 24) { SpuriousWakeups = 3 };
        var source = new V4l2Source("/dev/video0", 32, 24, device);
        await source.OpenAsync(default);
        for (var i = 0; i < 2; i++)
        {
            using var frame = await source.ReadAsync(default);
            Assert.That(frame, Is.Not.Null, $"frame {i}");
            Assert.That(frame!.ToArray(), Is.EqualTo(frames[i]));
        }
        Assert.That(device.SpuriousWakeups, Is.Zero);
        Assert.That(device.Calls.Count(c => c == "STREAMON"), Is.EqualTo(1), "the camera was not reopened");
        await source.DisposeAsync();
    }

    [Category(Needs.Ffmpeg)]
    [Test]
    public async Task YuyvIsConvertedLikeFfmpegConvertsIt()
    {
        var yuyv = Ffmpeg("-f lavfi -i testsrc=size=64x48 -frames:v 1 -pix_fmt yuyv422 -f rawvideo -");
        var rgb = Ffmpeg("-f lavfi -i testsrc=size=64x48 -frames:v 1 -pix_fmt yuyv422 -f rawvideo - | ffmpeg -hide_banner -loglevel error -f rawvideo -pix_fmt yuyv422 -s 64x48 -i - -sws_flags neighbor+accurate_rnd+full_chroma_int -pix_fmt rgb24 -f rawvideo -");
        Assert.That(yuyv, Has.Length.EqualTo(64 * 48 * 2));
        var rgba = new byte[64 * 48 * 4];
        V4l2Source.YuyvToRgba(yuyv, rgba);
        var worst = 0;
        for (int i = 0, j = 0; j < rgb.Length; i += 4, j += 3)
            for (var c = 0; c < 3; c++) worst = Math.Max(worst, Math.Abs(rgba[i + c] - rgb[j + c]));
        Assert.That(worst, Is.LessThanOrEqualTo(3), "BT.601 limited range, integer arithmetic");

        // Through the source: a camera without MJPEG gets YUYV, and frames come out as JPEGs.
        var device = new FakeV4l2Device([yuyv, yuyv], offersMjpeg: false, 64, 48);
        var source = new V4l2Source("/dev/video0", 64, 48, device);
        await source.OpenAsync(default);
        Assert.That(device.Calls, Is.EqualTo(new[] { "QUERYCAP", "S_FMT MJPG", "S_FMT YUYV", "REQBUFS 4", "STREAMON" }));
        using var frame = await source.ReadAsync(default);
        using var decoder = new ImageDecoder();
        using var pixels = new PixelBuffer();
        decoder.Decode(frame!.Data, pixels);
        Assert.That((pixels.Width, pixels.Height), Is.EqualTo((64, 48)));
        await source.DisposeAsync();
    }

    [Test]
    public async Task AMissingOrVanishingCameraIsAClearError()
    {
        var missing = new V4l2Source("/dev/video9", 320, 240, new FakeV4l2Device([], true, 320, 240));
        Assert.That(async () => await missing.OpenAsync(default), Throws.TypeOf<IOException>().With.Message.Contains("cannot open /dev/video9: no such device"));

        var frame = TestImages.Jpeg(TestImages.Pattern(32, 32), 32, 32);
        var device = new FakeV4l2Device([frame, frame, frame, frame], true, 32, 32) { VanishAfter = 2 };
        var source = new V4l2Source("/dev/video0", 32, 32, device);
        await source.OpenAsync(default);
        (await source.ReadAsync(default))!.Dispose();
        (await source.ReadAsync(default))!.Dispose();
        Assert.That(async () => await source.ReadAsync(default), Throws.TypeOf<IOException>().With.Message.Contains("unplugged"));
        await source.DisposeAsync();
        Assert.That(device.Closed, Is.True);
    }

    [Test]
    public async Task DisposingReleasesTheDescriptorAndEveryMappingExactlyOnce()
    {
        // fd 0 is a real descriptor (a daemon started with stdin closed gets it): it must be used and closed, not taken for "none".
        var frame = TestImages.SolidJpeg(32, 24, 10, 20, 30);
        var device = new FakeV4l2Device([frame], offersMjpeg: true, 32, 24) { Fd = 0 };
        var source = new V4l2Source("/dev/video0", 32, 24, device);
        await source.OpenAsync(default);
        (await source.ReadAsync(default))!.Dispose();
        var mapped = device.Mapped.ToList();
        Assert.That(mapped, Has.Count.EqualTo(4));
        Assert.That(device.Unmaps, Is.Empty, "nothing released while open");

        await source.DisposeAsync();
        Assert.That(device.ClosedFds, Is.EqualTo(new[] { 0 }));
        Assert.That(device.Unmaps, Is.EquivalentTo(mapped), "each buffer unmapped once, with the length it was mapped with");
        await source.DisposeAsync();
        Assert.That(device.ClosedFds, Has.Count.EqualTo(1), "a second dispose releases nothing again");
        Assert.That(device.Unmaps, Has.Count.EqualTo(4));
        Assert.That(async () => await source.ReadAsync(default), Throws.TypeOf<ObjectDisposedException>(), "no call on a closed (maybe reused) descriptor");
    }

    [Test]
    public async Task AnOpenThatFailsHalfwayReleasesWhatItHadTaken()
    {
        var device = new FakeV4l2Device([], offersMjpeg: true, 32, 24) { FailMapAt = 2 };
        var source = new V4l2Source("/dev/video0", 32, 24, device);
        Assert.That(async () => await source.OpenAsync(default), Throws.TypeOf<IOException>().With.Message.Contains("mmap of buffer 2 failed"));
        var mapped = device.Mapped.ToList();
        Assert.That(mapped, Has.Count.EqualTo(2));
        // The supervisor disposes a source whose open failed: the two mappings and the descriptor go.
        await source.DisposeAsync();
        Assert.That(device.Unmaps, Is.EquivalentTo(mapped));
        Assert.That(device.ClosedFds, Is.EqualTo(new[] { 3 }));
    }
}
