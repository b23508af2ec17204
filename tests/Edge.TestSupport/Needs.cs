namespace Edge.TestSupport;

/// <summary>
/// Test categories for what a test needs beyond .NET: a contributor runs the fast set alone with
/// <c>tools/test.sh --fast</c> (every category below left out); CI runs everything. A test that
/// calls one of these without its category fails (see <see cref="Python"/>'s check), so a new
/// test cannot slip into the fast set by mistake.
/// </summary>
public static class Needs
{
    /// <summary>Debian's /usr/bin/python3 with onnx, numpy, PIL, torch, torchvision, jsonschema (references).</summary>
    public const string Python = "Python";
    /// <summary>The dataset-fashion-mnist package's files.</summary>
    public const string FashionMnist = "FashionMnist";
    /// <summary>ffmpeg on the PATH (a live MJPEG camera, test frames).</summary>
    public const string Ffmpeg = "Ffmpeg";
    /// <summary>Headless Chromium (the live page, as a browser runs it).</summary>
    public const string Chromium = "Chromium";
    /// <summary>Prometheus' promtool (the /metrics text format).</summary>
    public const string Promtool = "Promtool";
    /// <summary>Root (mounting a tmpfs to fill a disk).</summary>
    public const string Root = "Root";
    /// <summary>A published Native-AOT edged (tools/publish.sh; CI publishes before testing).</summary>
    public const string Aot = "Aot";
    /// <summary>Debian packaging and systemd tools: dpkg-deb, fakeroot, lintian, debootstrap, systemd-analyze (tools/setup.sh installs them).</summary>
    public const string Packaging = "Packaging";
    /// <summary>Minutes of TorchSharp training: real but slow.</summary>
    public const string Training = "Training";

    public static readonly string[] All = [Python, FashionMnist, Ffmpeg, Chromium, Promtool, Root, Aot, Packaging, Training];

    /// <summary>Fails the current test unless it (or its fixture) carries <paramref name="category"/>.</summary>
    public static void Check(string category)
    {
        var categories = new List<string>();
        for (var test = NUnit.Framework.Internal.TestExecutionContext.CurrentContext.CurrentTest; test is not null; test = test.Parent as NUnit.Framework.Internal.Test)
            foreach (var c in test.Properties[NUnit.Framework.Internal.PropertyNames.Category]) categories.Add((string)c);
        if (!categories.Contains(category))
            NUnit.Framework.Assert.Fail($"this test needs {category} but is not marked [Category(Needs.{category})]: the fast set would run it");
    }
}
