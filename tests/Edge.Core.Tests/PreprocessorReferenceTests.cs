using System.Text.Json;
using Edge.Core.Imaging;
using Edge.Onnx.Metadata;

namespace Edge.Core.Tests;

/// <summary>
/// Preprocessing against PyTorch: <c>F.interpolate(mode="bilinear", align_corners=False)</c> on the
/// cropped (or, for letterbox, padded) image, then (x * scale - mean) / std, computed in
/// /usr/bin/python3 for every resize mode, colour order and layout.
/// </summary>
[Category(Needs.Python)] // the fixture computes the reference tensors with PIL and NumPy
public class PreprocessorReferenceTests
{
    public sealed record Case(string Name, int W, int H, int Tw, int Th, string Mode, float Frac, string Color, string Layout, int Fill);

    private static readonly Case[] Cases =
    [
        new("squash-down-rgb", 97, 61, 32, 24, "squash", 1f, "rgb", "nchw", 0),
        new("squash-up-rgb", 13, 9, 40, 30, "squash", 1f, "rgb", "nchw", 0),
        new("squash-down-bgr", 97, 61, 32, 24, "squash", 1f, "bgr", "nchw", 0),
        new("squash-down-gray", 97, 61, 32, 24, "squash", 1f, "gray", "nchw", 0),
        new("squash-nhwc", 97, 61, 32, 24, "squash", 1f, "rgb", "nhwc", 0),
        new("crop-wide", 97, 61, 24, 24, "center-crop", 1f, "rgb", "nchw", 0),
        new("crop-tall", 61, 97, 24, 24, "center-crop", 1f, "rgb", "nchw", 0),
        new("crop-0875", 120, 90, 28, 28, "center-crop", 0.875f, "rgb", "nchw", 0),
        new("crop-gray-up", 20, 14, 28, 28, "center-crop", 1f, "gray", "nchw", 0),
        new("letterbox-wide", 97, 61, 32, 32, "letterbox", 1f, "rgb", "nchw", 114),
        new("letterbox-tall", 61, 97, 32, 32, "letterbox", 1f, "bgr", "nchw", 0),
        new("letterbox-nhwc", 97, 61, 32, 32, "letterbox", 1f, "rgb", "nhwc", 114),
        new("letterbox-gray", 50, 20, 28, 28, "letterbox", 1f, "gray", "nchw", 255),
    ];

    private static TempDir _dir = null!;
    private static readonly Dictionary<string, float[]> Reference = [];

    [OneTimeSetUp]
    public static void ComputeReferences()
    {
        _dir = new TempDir();
        var jobs = Cases.Select(c =>
        {
            var raw = _dir.File(c.Name + ".rgba");
            File.WriteAllBytes(raw, TestImages.Pattern(c.W, c.H, seed: c.W + c.H));
            return new Dictionary<string, object>
            {
                ["raw"] = raw, ["out"] = _dir.File(c.Name + ".f32"), ["w"] = c.W, ["h"] = c.H, ["tw"] = c.Tw, ["th"] = c.Th,
                ["mode"] = c.Mode, ["frac"] = c.Frac, ["color"] = c.Color, ["layout"] = c.Layout, ["fill"] = c.Fill,
                ["mean"] = Mean(c.Color), ["std"] = Std(c.Color), ["scale"] = 1.0 / 255,
            };
        }).ToList();
        var jobFile = _dir.File("jobs.json");
        File.WriteAllText(jobFile, JsonSerializer.Serialize(jobs));
        Python.Run("""
            import json, sys
            import numpy as np, torch
            import torch.nn.functional as F
            for c in json.load(open(sys.argv[1])):
                W, H, tw, th = c["w"], c["h"], c["tw"], c["th"]
                rgb = np.fromfile(c["raw"], dtype=np.uint8).reshape(H, W, 4)[:, :, :3].astype(np.float32)
                if c["color"] == "gray":
                    img = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])[..., None]
                elif c["color"] == "bgr":
                    img = rgb[..., ::-1]
                else:
                    img = rgb
                t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].double()
                C = t.shape[1]
                if c["mode"] == "squash":
                    out = F.interpolate(t, size=(th, tw), mode="bilinear", align_corners=False)
                elif c["mode"] == "center-crop":
                    if W / H > tw / th:
                        ch, cw = H, H * tw / th
                    else:
                        cw, ch = W, W * th / tw
                    cw = min(max(round(cw * c["frac"]), 1), W)
                    ch = min(max(round(ch * c["frac"]), 1), H)
                    x0, y0 = (W - cw) // 2, (H - ch) // 2
                    out = F.interpolate(t[:, :, y0:y0 + ch, x0:x0 + cw], size=(th, tw), mode="bilinear", align_corners=False)
                else:
                    s = min(tw / W, th / H)
                    nw, nh = min(max(round(W * s), 1), tw), min(max(round(H * s), 1), th)
                    inner = F.interpolate(t, size=(nh, nw), mode="bilinear", align_corners=False)
                    out = torch.full((1, C, th, tw), float(c["fill"]), dtype=torch.float64)
                    x0, y0 = (tw - nw) // 2, (th - nh) // 2
                    out[:, :, y0:y0 + nh, x0:x0 + nw] = inner
                mean = torch.tensor(c["mean"], dtype=torch.float64).view(1, C, 1, 1)
                std = torch.tensor(c["std"], dtype=torch.float64).view(1, C, 1, 1)
                out = (out * c["scale"] - mean) / std
                if c["layout"] == "nhwc":
                    out = out.permute(0, 2, 3, 1)
                out.contiguous().numpy().astype(np.float32).tofile(c["out"])
            """, jobFile);
        foreach (var c in Cases) Reference[c.Name] = Python.ReadFloats(_dir.File(c.Name + ".f32"));
    }

    [OneTimeTearDown]
    public static void Cleanup() => _dir.Dispose();

    private static float[] Mean(string color) => color == "gray" ? [0.449f] : [0.485f, 0.456f, 0.406f];
    private static float[] Std(string color) => color == "gray" ? [0.226f] : [0.229f, 0.224f, 0.225f];

    [Category(Needs.Python)]
    [TestCaseSource(nameof(Cases))]
    public unsafe void MatchesPyTorch(Case c)
    {
        PreprocessingNames.TryParseColor(c.Color, out var color);
        PreprocessingNames.TryParseResize(c.Mode, out var mode);
        var spec = new PreprocessingSpec
        {
            Width = c.Tw, Height = c.Th, Color = color, Resize = mode, CropFraction = c.Frac,
            Mean = Mean(c.Color), Std = Std(c.Color), LetterboxFill = (byte)c.Fill,
        };
        var pre = new Preprocessor(spec, c.Layout == "nhwc" ? TensorLayout.Nhwc : TensorLayout.Nchw);
        var rgba = TestImages.Pattern(c.W, c.H, seed: c.W + c.H);
        var tensor = new float[pre.TensorLength];
        fixed (byte* p = rgba)
        {
            pre.Run(ImageView.FromPinned(p, c.W, c.H), tensor);
            pre.Run(ImageView.FromPinned(p, c.W, c.H), tensor); // second run reuses the cached plan
        }
        var expected = Reference[c.Name];
        Assert.That(tensor, Has.Length.EqualTo(expected.Length));
        var worst = tensor.Zip(expected, (a, b) => Math.Abs(a - b)).Max();
        TestContext.Out.WriteLine($"{c.Name}: max abs difference {worst:E2} over {expected.Length} values (range {expected.Min():F2}..{expected.Max():F2})");
        Assert.That(worst, Is.LessThan(1e-5f), $"max abs difference {worst}");
    }

    [Category(Needs.Python)]
    [Test]
    public void GeometryIsWhatTheDocsSay()
    {
        // 640x480 into 224x224: crop keeps the central 480x480; letterbox fits 224x168 with 28-pixel bars.
        Assert.That(Preprocessor.ComputeGeometry(640, 480, 224, 224, ResizeMode.CenterCrop, 1f),
            Is.EqualTo(new Preprocessor.Geometry(80, 0, 480, 480, 0, 0, 224, 224)));
        Assert.That(Preprocessor.ComputeGeometry(640, 480, 224, 224, ResizeMode.Letterbox, 1f),
            Is.EqualTo(new Preprocessor.Geometry(0, 0, 640, 480, 0, 28, 224, 168)));
        Assert.That(Preprocessor.ComputeGeometry(640, 480, 224, 224, ResizeMode.CenterCrop, 0.875f),
            Is.EqualTo(new Preprocessor.Geometry(110, 30, 420, 420, 0, 0, 224, 224)));
    }
}
