using System.Diagnostics;
using Edge.Core.Imaging;

namespace Edge.Core.Tests;

/// <summary>
/// The scan check against JPEGs from independent encoders (libjpeg-turbo's cjpeg, ffmpeg, PIL): every
/// whole file passes; a file cut mid-scan with an end-of-image marker appended (which Skia decodes as
/// if whole) is refused, and so are damaged restart markers and invalid Huffman codes.
/// </summary>
[NonParallelizable]
[Category(Needs.Python), Category(Needs.Ffmpeg)] // the fixture encodes its JPEGs with cjpeg, ffmpeg and PIL
public class JpegScanCheckTests
{
    private static TempDir? _dir;
    private static List<string> _files = [];

    private static void Run(string file, params string[] args)
    {
        if (file.EndsWith("ffmpeg", StringComparison.Ordinal)) Needs.Check(Needs.Ffmpeg);
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) Assert.Fail($"{file} {string.Join(' ', args)} failed: {err.Result}");
    }

    [OneTimeSetUp]
    public void MakeJpegs()
    {
        foreach (var tool in new[] { "/usr/bin/cjpeg", "/usr/bin/ffmpeg" })
            if (!File.Exists(tool)) Assert.Fail($"{tool} is missing: run tools/setup.sh");
        _dir = new TempDir();
        var d = _dir;
        // PIL: subsampling 4:4:4 / 4:2:2 / 4:2:0, optimised tables, grey, CMYK, odd sizes, a noise image (long AC runs).
        Python.Run("""
            import sys, numpy as np
            from PIL import Image
            d = sys.argv[1]
            rng = np.random.RandomState(3)
            base = Image.open(sys.argv[2]).convert("RGB").resize((643, 481))
            for i, (sub, q, opt) in enumerate([(0, 95, False), (1, 75, False), (2, 50, False), (2, 90, True), (0, 12, True), (2, 100, False)]):
                base.save(f"{d}/pil_{i}.jpg", quality=q, subsampling=sub, optimize=opt)
            base.convert("L").save(f"{d}/pil_gray.jpg", quality=80)
            base.convert("CMYK").save(f"{d}/pil_cmyk.jpg", quality=80)
            noise = Image.fromarray((rng.rand(301, 401, 3) * 255).astype("uint8"))
            noise.save(f"{d}/pil_noise.jpg", quality=100, subsampling=0)
            noise.save(f"{d}/pil_noise_opt.jpg", quality=97, optimize=True)
            base.resize((17, 9)).save(f"{d}/pil_tiny.jpg", quality=90)
            base.save(f"{d}/pil.ppm")
            """, d.Path, Path.Combine(RepoPaths.Models, "samples", "meadow.jpg"));
        // cjpeg (libjpeg-turbo): restart intervals in rows and in MCUs, optimised tables, greyscale, 4:1:1-style sampling.
        Run("/usr/bin/cjpeg", "-quality", "85", "-restart", "1", "-outfile", d.File("cj_restart_row.jpg"), d.File("pil.ppm"));
        Run("/usr/bin/cjpeg", "-quality", "85", "-restart", "3B", "-outfile", d.File("cj_restart_3.jpg"), d.File("pil.ppm"));
        Run("/usr/bin/cjpeg", "-quality", "60", "-optimize", "-restart", "7B", "-outfile", d.File("cj_restart_opt.jpg"), d.File("pil.ppm"));
        Run("/usr/bin/cjpeg", "-grayscale", "-restart", "2B", "-outfile", d.File("cj_gray_restart.jpg"), d.File("pil.ppm"));
        Run("/usr/bin/cjpeg", "-sample", "4x1,1x1,1x1", "-outfile", d.File("cj_411.jpg"), d.File("pil.ppm"));
        Run("/usr/bin/cjpeg", "-sample", "1x2,1x1,1x1", "-outfile", d.File("cj_440.jpg"), d.File("pil.ppm"));
        Run("/usr/bin/cjpeg", "-baseline", "-quality", "5", "-outfile", d.File("cj_q5.jpg"), d.File("pil.ppm"));
        // ffmpeg's MJPEG encoder, as a camera pipeline would use it.
        foreach (var (pf, q) in new[] { ("yuvj420p", 2), ("yuvj420p", 31), ("yuvj422p", 5), ("yuvj444p", 3), ("gray", 8) })
            Run("/usr/bin/ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=641x479", "-frames:v", "1", "-pix_fmt", pf, "-q:v", q.ToString(), d.File($"ff_{pf}_{q}.jpg"));
        Run("/usr/bin/ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x480", "-frames:v", "1", "-huffman", "default", d.File("ff_default_tables.jpg"));
        File.Delete(d.File("pil.ppm"));
        _files = [.. Directory.GetFiles(d.Path, "*.jpg").Order(StringComparer.Ordinal)];
        Assert.That(_files, Has.Count.EqualTo(24));
    }

    [OneTimeTearDown]
    public void Clean() => _dir?.Dispose();

    private static int ScanStart(byte[] jpeg)
    {
        for (var i = 2; i + 3 < jpeg.Length; i++)
            if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA) return i + 2 + ((jpeg[i + 2] << 8) | jpeg[i + 3]);
        throw new InvalidOperationException("no SOS");
    }

    private static DecodeInfo Decode(byte[] jpeg, bool check = true, JpegScanChecking mode = JpegScanChecking.Always)
    {
        using var decoder = new ImageDecoder(new ImageDecoderOptions { ScanCheck = check ? mode : JpegScanChecking.Off });
        using var pixels = new PixelBuffer();
        return decoder.Decode(jpeg, pixels);
    }

    [Category(Needs.Ffmpeg), Category(Needs.Python)]
    [Test]
    public void EveryWholeJpegPasses()
    {
        var check = new JpegScanCheck();
        foreach (var f in _files)
        {
            var bytes = File.ReadAllBytes(f);
            Assert.That(check.Check(bytes), Is.EqualTo(JpegScanCheck.Problem.None), Path.GetFileName(f));
            Assert.DoesNotThrow(() => Decode(bytes), Path.GetFileName(f));
        }
    }

    [Category(Needs.Ffmpeg), Category(Needs.Python)]
    [Test]
    public void AFrameCutMidScanWithAnEndMarkerIsTruncatedThoughSkiaWouldDecodeIt()
    {
        var checkedCuts = 0;
        var missed = new List<string>();
        foreach (var f in _files)
        {
            var whole = File.ReadAllBytes(f);
            var scan = ScanStart(whole);
            foreach (var fraction in new[] { 0.1, 0.5, 0.9 })
            {
                var cut = scan + (int)((whole.Length - 2 - scan) * fraction);
                var damaged = whole[..cut].Concat(new byte[] { 0xFF, 0xD9 }).ToArray();
                var e = Assert.Throws<ImageDecodeException>(() => Decode(damaged), $"{Path.GetFileName(f)} cut at {fraction}")!;
                Assert.That(e.Kind, Is.EqualTo(ImageErrorKind.Truncated), $"{Path.GetFileName(f)} at {fraction}: {e.Message}");
                // The camera path walks the scan only for a grey-filled image, which every cut-off YCbCr or grey
                // frame is, unless the cut falls inside its last block (17x9 pixels are two MCUs: 90% is in the last).
                if (!Path.GetFileName(f).Contains("cmyk") && !(Path.GetFileName(f) == "pil_tiny.jpg" && fraction > 0.5))
                {
                    try
                    {
                        Decode(damaged, mode: JpegScanChecking.WhenGreyFilled);
                        missed.Add($"{Path.GetFileName(f)} at {fraction}");
                    }
                    catch (ImageDecodeException g) when (g.Kind == ImageErrorKind.Truncated) { }
                }
                // Without the check, Skia takes it as a whole image (for the sequential ones): the check is what catches it.
                if (!Path.GetFileName(f).Contains("restart")) Assert.DoesNotThrow(() => Decode(damaged, check: false), Path.GetFileName(f));
                checkedCuts++;
            }
        }
        Assert.That(checkedCuts, Is.EqualTo(72));
        Assert.That(missed, Is.Empty, "the camera path (grey-fill test first) misses none");
    }

    [Category(Needs.Ffmpeg), Category(Needs.Python)]
    [Test]
    public void AMissingRestartMarkerIsCorrupt()
    {
        var whole = File.ReadAllBytes(_files.Single(f => f.EndsWith("cj_restart_3.jpg", StringComparison.Ordinal)));
        var scan = ScanStart(whole);
        var second = -1;
        for (var i = scan; i + 1 < whole.Length; i++)
            if (whole[i] == 0xFF && whole[i + 1] == 0xD1) { second = i; break; }
        Assert.That(second, Is.GreaterThan(0));
        var damaged = whole[..second].Concat(whole[(second + 2)..]).ToArray();
        var e = Assert.Throws<ImageDecodeException>(() => Decode(damaged))!;
        Assert.That(e.Kind, Is.EqualTo(ImageErrorKind.Corrupt).Or.EqualTo(ImageErrorKind.Truncated), e.Message);
    }

    [Category(Needs.Ffmpeg), Category(Needs.Python)]
    [Test]
    public void AnInvalidHuffmanCodeIsCorrupt()
    {
        // Sixteen one-bits (FF 00 FF 00 after byte stuffing) are no code of the standard DC table.
        var whole = File.ReadAllBytes(_files.Single(f => f.EndsWith("ff_default_tables.jpg", StringComparison.Ordinal)));
        var scan = ScanStart(whole);
        var damaged = (byte[])whole.Clone();
        damaged[scan] = 0xFF; damaged[scan + 1] = 0x00; damaged[scan + 2] = 0xFF; damaged[scan + 3] = 0x00;
        Assert.That(new JpegScanCheck().Check(damaged), Is.EqualTo(JpegScanCheck.Problem.BadCode));
        Assert.That(Assert.Throws<ImageDecodeException>(() => Decode(damaged))!.Kind, Is.EqualTo(ImageErrorKind.Corrupt));
    }

    [Category(Needs.Ffmpeg), Category(Needs.Python)]
    [Test]
    public void AFrameWithoutHuffmanTablesUsesTheStandardOnesAsLibjpegDoes()
    {
        // UVC cameras send MJPEG without DHT segments; libjpeg (and so Skia) fills in JPEG Annex K's tables.
        var whole = File.ReadAllBytes(_files.Single(f => f.EndsWith("ff_default_tables.jpg", StringComparison.Ordinal)));
        var stripped = new List<byte> { 0xFF, 0xD8 };
        var i = 2;
        while (true)
        {
            var marker = whole[i + 1];
            if (marker == 0xDA) { stripped.AddRange(whole[i..]); break; }
            var length = (whole[i + 2] << 8) | whole[i + 3];
            if (marker != 0xC4) stripped.AddRange(whole[i..(i + 2 + length)]);
            i += 2 + length;
        }
        var bytes = stripped.ToArray();
        Assert.That(bytes.Length, Is.LessThan(whole.Length - 400), "the DHT segments are gone");
        var a = TestImages.ManagedDecode(bytes);
        var b = TestImages.ManagedDecode(whole);
        Assert.That(a.Rgba, Is.EqualTo(b.Rgba), "Skia decodes it the same with the standard tables");
        Assert.That(new JpegScanCheck().Check(bytes), Is.EqualTo(JpegScanCheck.Problem.None));
        var cut = bytes[..(bytes.Length / 2)].Concat(new byte[] { 0xFF, 0xD9 }).ToArray();
        Assert.That(new JpegScanCheck().Check(cut), Is.EqualTo(JpegScanCheck.Problem.Truncated));
    }

    [Category(Needs.Ffmpeg), Category(Needs.Python)]
    [Test]
    public void ProgressiveJpegsAreLeftToTheDecoder()
    {
        var progressive = Python.Run("""
            import sys, io, base64
            from PIL import Image
            b = io.BytesIO(); Image.open(sys.argv[1]).save(b, "JPEG", quality=80, progressive=True)
            print(base64.b64encode(b.getvalue()).decode())
            """, Path.Combine(RepoPaths.Models, "samples", "sky.jpg"));
        var bytes = Convert.FromBase64String(progressive.Trim());
        Assert.That(new JpegScanCheck().Check(bytes), Is.EqualTo(JpegScanCheck.Problem.None));
        Assert.DoesNotThrow(() => Decode(bytes));
    }
}
