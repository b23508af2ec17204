using System.Text.Json;
using Edge.Core.Imaging;
using Edge.Daemon.Regions;
using Edge.Onnx.Metadata;

namespace Edge.Daemon.Tests;

/// <summary>Regions: crops against PIL, the decoder keeping enough resolution for the smallest region, and the rectangle checks.</summary>
public class RegionTests
{
    private static readonly Region[] Cases =
    [
        new("latch", 0.1, 0.2, 0.3, 0.3),
        new("right-half", 0.5, 0, 0.5, 1),
        new("odd", 0.333, 0.667, 0.2, 0.333),
        new("corner", 0.9, 0.9, 0.1, 0.1),
    ];

    /// <summary>
    /// Each region cropped from a 97x61 frame and preprocessed (24x24, squash and centre crop) as the pipeline does, against
    /// PIL's crop of the box rounded from the same fractions, resized by PyTorch's bilinear interpolation (the reference the
    /// preprocessing tests use), normalised in NumPy; within the preprocessing tolerance (1e-5).
    /// </summary>
    [Category(Needs.Python)]
    [TestCase("squash")]
    [TestCase("center-crop")]
    public unsafe void ACropIsPilsCropOfTheSameFrameThenTheModelsResize(string resize)
    {
        using var dir = new TempDir();
        const int W = 97, H = 61;
        var rgba = TestImages.Pattern(W, H, seed: 7);
        File.WriteAllBytes(dir.File("frame.rgba"), rgba);
        PreprocessingNames.TryParseResize(resize, out var mode);
        var spec = new PreprocessingSpec { Width = 24, Height = 24, Resize = mode, Color = ColorOrder.Rgb, Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f] };
        var jobs = Cases.Select(r => new Dictionary<string, object> { ["x"] = r.X, ["y"] = r.Y, ["w"] = r.Width, ["h"] = r.Height, ["out"] = dir.File(r.Name + ".f32") }).ToList();
        File.WriteAllText(dir.File("jobs.json"), JsonSerializer.Serialize(jobs));
        Python.Run("""
            import json, sys, math
            import numpy as np, torch
            import torch.nn.functional as F
            from PIL import Image
            W, H, mode = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
            frame = Image.frombytes("RGBA", (W, H), open(sys.argv[2], "rb").read()).convert("RGB")
            half = lambda v: math.floor(v + 0.5)   # the box's edges rounded to the nearest pixel
            for j in json.load(open(sys.argv[1])):
                box = (half(j["x"] * W), half(j["y"] * H), half((j["x"] + j["w"]) * W), half((j["y"] + j["h"]) * H))
                crop = np.asarray(frame.crop(box), dtype=np.float64)
                t = torch.from_numpy(crop).permute(2, 0, 1)[None]
                h, w = crop.shape[0], crop.shape[1]
                if mode == "center-crop":
                    s = min(w, h)
                    x0, y0 = (w - s) // 2, (h - s) // 2
                    t = t[:, :, y0:y0 + s, x0:x0 + s]
                out = F.interpolate(t, size=(24, 24), mode="bilinear", align_corners=False)
                mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
                std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)
                ((out / 255 - mean) / std).numpy().astype(np.float32).tofile(j["out"])
            """, dir.File("jobs.json"), dir.File("frame.rgba"), W.ToString(), H.ToString(), resize);
        var pre = new Preprocessor(spec);
        var tensor = new float[pre.TensorLength];
        fixed (byte* p = rgba)
        {
            var frame = ImageView.FromPinned(p, W, H);
            for (var round = 0; round < 2; round++) // the second round reuses each region's resize plan
                foreach (var r in Cases)
                {
                    pre.Run(r.Crop(frame), tensor);
                    var expected = Python.ReadFloats(dir.File(r.Name + ".f32"));
                    var worst = tensor.Zip(expected, (a, b) => Math.Abs(a - b)).Max();
                    Assert.That(worst, Is.LessThan(1e-5f), $"{r.Name} ({resize}): max abs difference {worst}");
                }
        }
    }

    [Test]
    public void TheBoxIsTheFractionsRoundedToWholePixelsInsideTheFrame()
    {
        Assert.That(new Region("a", 0.1, 0.2, 0.3, 0.3).Pixels(640, 480), Is.EqualTo((64, 96, 192, 144)));
        Assert.That(new Region("b", 0.5, 0, 0.5, 1).Pixels(97, 61), Is.EqualTo((49, 0, 48, 61)), "48.5 rounds up to 49");
        Assert.That(new Region("tiny", 0.999, 0.999, 0.001, 0.001).Pixels(100, 100), Is.EqualTo((99, 99, 1, 1)), "never empty, never outside");
        Assert.That(Region.WholeFrame.Pixels(640, 480), Is.EqualTo((0, 0, 640, 480)));
    }

    [Test]
    public void TheDecoderKeepsEnoughPixelsForTheSmallestRegion()
    {
        // A 224x224 model on a 1920x1080 frame: however small the region, its pixels at the decoder's scale reach 224x224
        // (or the frame is decoded whole); a region of half the frame lets the decoder reduce it about fourfold.
        var spec = new PreprocessingSpec { Width = 224, Height = 224, Resize = ResizeMode.Squash, Color = ColorOrder.Rgb, Mean = [0, 0, 0], Std = [1, 1, 1] };
        foreach (var (regions, expectedScale) in new[]
                 {
                     (new[] { new Region("q", 0, 0, 0.25, 0.25), new Region("t", 0.5, 0.5, 0.1, 0.1) }, 1.0),
                     ([new Region("half", 0, 0, 0.5, 0.9)], 224.0 / 960),
                 })
        {
            var scale = Preprocessor.RequiredScale(1920, 1080, Region.DecodeHint(regions, spec));
            Assert.That(scale, Is.EqualTo(expectedScale).Within(0.002));
            foreach (var r in regions)
            {
                var (_, _, w, h) = r.Pixels((int)Math.Round(1920 * scale), (int)Math.Round(1080 * scale));
                Assert.That(scale >= 1 || (w >= 223 && h >= 223), $"{r.Name}: {w}x{h} pixels at scale {scale:0.###} is below the model's 224x224");
            }
        }
        // Without regions the model's own hint is used: a 224 model on 1920x1080 may go to an eighth.
        var whole = Region.DecodeHint([Region.WholeFrame], spec);
        Assert.That(whole, Is.EqualTo(ScaleHint.For(spec)));
    }

    /// <summary>
    /// <c>edged classify --region</c> on a noisy PNG frame, with a region whose edges fall between pixels, against plain
    /// <c>edged classify</c> of PIL's crop of the box rounded to the nearest pixels, saved as its own PNG: the same pixels, so
    /// the same classes and scores (an edge off by one pixel changes them).
    /// </summary>
    [Category(Needs.Python)]
    [Test]
    public void ClassifyWithARegionEqualsClassifyingPilsCropOfIt()
    {
        using var dir = new TempDir();
        var frame = dir.File("frame.png");
        Python.Run("""
            import sys
            from PIL import Image
            import random
            random.seed(5)
            w, h = 161, 121
            img = Image.new("RGB", (w, h))
            img.putdata([(random.randrange(256), (x * 7 + y) % 256, (y * 3) % 256) for y in range(h) for x in range(w)])
            img.save(sys.argv[1])
            # The region 0.33,0.21,0.4,0.5 of 161x121: edges rounded to the nearest pixel (53.13, 25.41, 117.53, 85.91).
            half = lambda v: int(v + 0.5)
            img.crop((half(0.33 * w), half(0.21 * h), half(0.73 * w), half(0.71 * h))).save(sys.argv[2])
            """, frame, dir.File("crop.png"));
        var regionRun = Edged.Run("classify", frame, "--region", "0.33,0.21,0.4,0.5", "--json");
        JsonSchemas.AssertValid(regionRun.Stdout, "edged-classify"); // the report's region, as documented
        var region = JsonDocument.Parse(regionRun.Stdout).RootElement;
        var crop = JsonDocument.Parse(Edged.Run("classify", dir.File("crop.png"), "--json").Stdout).RootElement;
        var a = region.GetProperty("results")[0].GetProperty("top").EnumerateArray().ToList();
        var b = crop.GetProperty("results")[0].GetProperty("top").EnumerateArray().ToList();
        Assert.That(a.Select(p => p.GetProperty("label").GetString()), Is.EqualTo(b.Select(p => p.GetProperty("label").GetString())));
        for (var i = 0; i < a.Count; i++)
            Assert.That(a[i].GetProperty("score").GetSingle(), Is.EqualTo(b[i].GetProperty("score").GetSingle()).Within(1e-5f));
        Assert.That(region.GetProperty("region").GetProperty("x").GetDouble(), Is.EqualTo(0.33));
        // The crop matters: the whole frame's scores differ.
        var wholeTop = JsonDocument.Parse(Edged.Run("classify", frame, "--json").Stdout).RootElement.GetProperty("results")[0].GetProperty("top")[0].GetProperty("score").GetSingle();
        Assert.That(wholeTop, Is.Not.EqualTo(a[0].GetProperty("score").GetSingle()).Within(1e-4f));
        var whole = JsonDocument.Parse(Edged.Run("classify", frame, "--json").Stdout).RootElement;
        Assert.That(whole.TryGetProperty("region", out _), Is.False, "no region: the report says none");
    }

    [Test]
    public void ABadRegionArgumentIsOneLineNamingIt()
    {
        var r = Edged.Run("classify", RepoPaths.Root, "--region", "0.8,0,0.5,1");
        Assert.That(r.ExitCode, Is.Not.Zero);
        Assert.That(r.Stderr.Trim(), Does.StartWith("edged: error: --region: '0.8,0,0.5,1': the rectangle leaves the frame"));
        Assert.That(r.Stderr.Trim().Split('\n'), Has.Length.EqualTo(1));
    }

    [TestCase("0.1,0.2,0.3,0.3", true)]
    [TestCase("0, 0, 1, 1", true)]
    [TestCase("0.1,0.2,0.3", false)]
    [TestCase("0.8,0,0.3,1", false)]
    [TestCase("0,0,0,1", false)]
    [TestCase("-0.1,0,0.5,0.5", false)]
    [TestCase("a,b,c,d", false)]
    [TestCase("NaN,0,0.5,0.5", false)]
    public void ARegionArgumentIsFourFractionsInsideTheImage(string text, bool ok)
    {
        if (ok) Assert.That(Region.Parse(text).Problem(), Is.Null);
        else Assert.That(() => Region.Parse(text), Throws.TypeOf<FormatException>().With.Message.Contains(text));
    }
}
