using System.Text.Json;
using Edge.Onnx.Model;

namespace Edge.Daemon.Tests;

public class CliTests
{
    [Test]
    public void ClassifyRunsTheShippedModelOnTheShippedSamplesFromAnyDirectory()
    {
        var samples = Path.Combine(RepoPaths.Models, "samples");
        var r = Edged.Run("classify", samples, "--json");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.That(doc.RootElement.GetProperty("model").GetString(), Does.EndWith("models/colors.onnx"));
        var byName = doc.RootElement.GetProperty("results").EnumerateArray()
            .ToDictionary(e => Path.GetFileName(e.GetProperty("path").GetString()!), e => e.GetProperty("top")[0].GetProperty("label").GetString());
        foreach (var (name, expected, _) in SampleFrames.Make())
            Assert.That(byName[name], Is.EqualTo(expected), name);
        Assert.That(r.Stderr, Is.Empty, "the shipped model states everything: no warnings");
    }

    [Category(Needs.Python)]
    [Test]
    public void ClassifyReportsBadFilesAndGoesOn()
    {
        using var dir = new TempDir();
        File.Copy(Path.Combine(RepoPaths.Models, "samples", "sky.jpg"), dir.File("a-good.jpg"));
        var jpeg = File.ReadAllBytes(Path.Combine(RepoPaths.Models, "samples", "meadow.jpg"));
        File.WriteAllBytes(dir.File("b-truncated.jpg"), jpeg[..(jpeg.Length / 3)]);
        File.WriteAllBytes(dir.File("c-empty.png"), []);
        File.WriteAllText(dir.File("d-text.png"), "not an image");
        File.Copy(Path.Combine(RepoPaths.Models, "samples", "night.jpg"), dir.File("e-good.jpg"));
        File.WriteAllText(dir.File("notes.txt"), "ignored: not an image extension");

        var r = Edged.Run("classify", dir.Path, "--json");
        Assert.That(r.ExitCode, Is.EqualTo(3), "some inputs failed");
        JsonSchemas.AssertValid(r.Stdout, "edged-classify"); // failed images too: "error" instead of "top"
        using var doc = JsonDocument.Parse(r.Stdout);
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.That(results.Select(e => Path.GetFileName(e.GetProperty("path").GetString())),
            Is.EqualTo(new[] { "a-good.jpg", "b-truncated.jpg", "c-empty.png", "d-text.png", "e-good.jpg" }));
        Assert.That(results.Select(e => e.GetProperty("ok").GetBoolean()), Is.EqualTo(new[] { true, false, false, false, true }));
        Assert.That(results[1].GetProperty("error").GetString(), Does.Contain("ends early"));
        Assert.That(results[2].GetProperty("error").GetString(), Does.Contain("empty"));
        Assert.That(results[3].GetProperty("error").GetString(), Does.Contain("not an image"));
        Assert.That(results[0].GetProperty("top")[0].GetProperty("label").GetString(), Is.EqualTo("blue"));
        Assert.That(results[4].GetProperty("top")[0].GetProperty("label").GetString(), Is.EqualTo("black"));
        Assert.That(doc.RootElement.GetProperty("failed").GetInt32(), Is.EqualTo(3));
    }

    [Test]
    public void ClassifyPrintsATableAndOneLinePerBadFile()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("bad.jpg"), "no");
        var good = Path.Combine(RepoPaths.Models, "samples", "tomatoes.jpg");
        var r = Edged.Run("classify", good, dir.File("bad.jpg"), "--top", "2");
        Assert.That(r.ExitCode, Is.EqualTo(3));
        Assert.That(r.Stdout, Does.Contain("tomatoes.jpg").And.Contain("red"));
        Assert.That(r.Stdout, Does.Contain("1 classified, 1 failed"));
        Assert.That(r.Stderr.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(r.Stderr, Does.Contain("bad.jpg: not an image Edge can read"));
    }

    [Test]
    public void ABadModelEndsWithOneLineAndExitCode1()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("cut.onnx"), File.ReadAllBytes(Path.Combine(RepoPaths.Models, "colors.onnx"))[..500]);
        var sample = Path.Combine(RepoPaths.Models, "samples", "sky.jpg");
        foreach (var model in new[] { dir.File("cut.onnx"), dir.File("missing.onnx") })
        {
            var r = Edged.Run("classify", sample, "--model", model);
            Assert.That(r.ExitCode, Is.EqualTo(1));
            Assert.That(r.Stderr.Trim().Split('\n'), Has.Length.EqualTo(1), r.Stderr);
            Assert.That(r.Stderr, Does.StartWith("edged: error: "));
            Assert.That(r.Stdout, Is.Empty);
        }
    }

    [Test]
    public void UsageErrorsExitWith2()
    {
        var sample = Path.Combine(RepoPaths.Models, "samples", "sky.jpg");
        Assert.That(Edged.Run("classify", sample, "--resize", "zoom").ExitCode, Is.EqualTo(2));
        var blank = Edged.Run("classify", sample, "--mean", "");
        Assert.That(blank.ExitCode, Is.EqualTo(2), "a flag given empty is a mistake, not the default");
        Assert.That(blank.Stderr.Trim(), Is.EqualTo("edged: error: --mean is empty"));
        Assert.That(Edged.Run("classify").ExitCode, Is.EqualTo(2));
        Assert.That(Edged.Run("frobnicate").ExitCode, Is.EqualTo(2));
        var r = Edged.Run("classify", "/nonexistent/photo.jpg");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr, Does.Contain("'/nonexistent/photo.jpg' does not exist"));
    }

    [Test]
    public void LabelsAndPreprocessingFlagsOverrideTheModel()
    {
        using var dir = new TempDir();
        var path = TestModels.Save(TestModels.SmallConvNet(32), dir.File("foreign.onnx"));
        File.WriteAllLines(dir.File("labels.txt"), Enumerable.Range(0, 10).Select(i => $"thing {i}"));
        var sample = Path.Combine(RepoPaths.Models, "samples", "sky.jpg");
        var r = Edged.Run("classify", sample, "--model", path, "--labels", dir.File("labels.txt"), "--resize", "center-crop", "--json");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        Assert.That(r.Stdout, Does.Contain("thing "));
        Assert.That(r.Stderr, Does.Contain("does not state").And.Contain("mean"), "still warns: normalisation is guessed");

        File.WriteAllLines(dir.File("short.txt"), ["a", "b"]);
        var bad = Edged.Run("classify", sample, "--model", path, "--labels", dir.File("short.txt"));
        Assert.That(bad.ExitCode, Is.EqualTo(1));
        Assert.That(bad.Stderr, Does.Contain("outputs 10 class scores but 2 labels were given (from command-line flags)"));
    }

    [Category(Needs.Python)]
    [Test]
    public void InspectDescribesTheShippedModel()
    {
        var r = Edged.Run("inspect", Path.Combine(RepoPaths.Models, "colors.onnx"), "--json");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        JsonSchemas.AssertValid(r.Stdout, "edged-inspect");
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("total_macs").GetInt64(), Is.EqualTo(12 * 3), "one Gemm: 12 classes x 3 channel means");
        Assert.That(root.GetProperty("parameters").GetInt64(), Is.EqualTo(12 * 3 + 12));
        Assert.That(root.GetProperty("labels").GetArrayLength(), Is.EqualTo(12));
        Assert.That(root.GetProperty("output").GetString(), Is.EqualTo("probabilities"));
        Assert.That(root.GetProperty("preprocessing").GetProperty("width").GetInt32(), Is.EqualTo(64));
        Assert.That(root.GetProperty("inputs")[0].GetProperty("dims").EnumerateArray().Select(d => d.GetString()),
            Is.EqualTo(new[] { "N", "3", "64", "64" }));
    }

    [Test]
    public void AModelWithoutAFixedSizeIsToldWhichFlagGivesIt()
    {
        // The runtime names the missing setting; edged turns it into its own flag.
        using var dir = new TempDir();
        var g = new GraphBuilder();
        var x = g.Input("x", Edge.Onnx.Protos.TensorProto.Types.DataType.Float, "n", 3, "h", "w");
        g.Initializer("W", new float[6], 2, 3);
        var p = g.Node("Flatten", [g.Node("GlobalAveragePool", [x])]);
        g.Output(g.Node("Gemm", [p, "W"], "y", null, Attr.Int("transB", 1)), Edge.Onnx.Protos.TensorProto.Types.DataType.Float, "n", 2);
        var path = TestModels.Save(g.Build(), dir.File("symbolic.onnx"));
        var sample = Directory.GetFiles(Path.Combine(RepoPaths.Models, "samples"))[0];
        var r = Edged.Run("classify", sample, "--model", path);
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr.Trim(), Does.StartWith("edged: error: ").And.Contain("input_size").And.EndWith("or pass --input-size WIDTHxHEIGHT").And.Not.Contain("\n"));
        var sized = Edged.Run("classify", sample, "--model", path, "--input-size", "32x32", "--json");
        Assert.That(sized.ExitCode, Is.Zero, sized.Stderr);
    }

    [Test]
    public void InspectTextShowsLayersAndSaysWhyAModelIsNotRunnable()
    {
        using var dir = new TempDir();
        var g = new GraphBuilder();
        var x = g.Input("features", Edge.Onnx.Protos.TensorProto.Types.DataType.Float, 1, 20);
        g.Initializer("w", new float[60], 20, 3);
        g.Output(g.Node("MatMul", [x, "w"], "y", "proj"), Edge.Onnx.Protos.TensorProto.Types.DataType.Float, 1, 3);
        var path = TestModels.Save(g.Build(), dir.File("tabular.onnx"));
        var r = Edged.Run("inspect", path, "--layers");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        Assert.That(r.Stdout, Does.Contain("compute     60 MACs per image"));
        Assert.That(r.Stdout, Does.Contain("runnable    no:").And.Contain("rank 2"));
        Assert.That(r.Stdout, Does.Contain("proj").And.Contain("MatMul"));
    }

    [Category(Needs.Python)]
    [Test]
    public void BenchReportsStagesAndNoAllocationPerFrame()
    {
        var r = Edged.Run("bench", "-n", "30", "--warmup", "10", "--threads", "1", "--json");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        JsonSchemas.AssertValid(r.Stdout, "edged-bench");
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        var stages = root.GetProperty("stages").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
        Assert.That(stages.Keys, Is.EqualTo(new[] { "decode", "preprocess", "infer", "post", "total" }));
        foreach (var (name, s) in stages)
        {
            Assert.That(s.GetProperty("bytes_per_frame").GetDouble(), Is.Zero, name);
            Assert.That(s.GetProperty("median_ms").GetDouble(), Is.GreaterThanOrEqualTo(0), name);
            Assert.That(s.GetProperty("p99_ms").GetDouble(), Is.GreaterThanOrEqualTo(s.GetProperty("median_ms").GetDouble()), name);
        }
        Assert.That(root.GetProperty("image_width").GetInt32(), Is.EqualTo(640));
        Assert.That(root.GetProperty("iterations").GetInt32(), Is.EqualTo(30));
        Assert.That(root.GetProperty("infer_over_bare").GetDouble(), Is.GreaterThan(0));
    }

    [Test]
    public void BenchRefusesABadImageWithOneLine()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("x.jpg"), "nope");
        var r = Edged.Run("bench", "--image", dir.File("x.jpg"), "-n", "5");
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr.Trim(), Does.StartWith("edged: error:").And.Contain("not an image"));
    }

    [Test]
    public void AnOnnxRuntimeLibraryCanBeChosenAndABadOneFallsBackWithOneWarning()
    {
        var sample = Path.Combine(RepoPaths.Models, "samples", "sky.jpg");
        var bundled = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libonnxruntime.so");
        var good = Edged.Run("classify", sample, "--onnxruntime", bundled, "--json");
        Assert.That(good.ExitCode, Is.Zero, good.Stderr);
        Assert.That(good.Stderr, Is.Empty);

        var bad = Edged.Run("classify", sample, "--onnxruntime", "/nonexistent/libonnxruntime.so", "--provider", "cuda", "--json");
        Assert.That(bad.ExitCode, Is.Zero, bad.Stderr);
        var lines = bad.Stderr.Trim().Split('\n');
        Assert.That(lines, Has.Length.EqualTo(2), bad.Stderr);
        Assert.That(lines[0], Does.Contain("Cannot load ONNX Runtime from '/nonexistent/libonnxruntime.so'"));
        Assert.That(lines[1], Does.Contain("'cuda' is not in this ONNX Runtime build").And.Contain("running on CPU"));
        Assert.That(bad.Stdout, Does.Contain("\"blue\""));
    }

    /// <summary>
    /// The published Native-AOT binary (CI publishes it before the tests): its errors are the same
    /// one-line messages, never .NET resource keys such as IO_FileNotFound_FileName.
    /// </summary>
    [Test, Category(Needs.Aot)]
    public void ThePublishedBinarySaysErrorsInWordsNotResourceKeys()
    {
        var binary = Path.Combine(RepoPaths.Root, "artifacts", "edged-linux-x64", "edged");
        if (!File.Exists(binary)) Assert.Ignore("no published binary: run tools/publish.sh (CI does before the tests)");
        using var dir = new TempDir();
        File.WriteAllText(dir.File("bad.json"), "{ \"Source\": { \"Kind\": pipe } }");
        File.WriteAllText(dir.File("typed.json"), "{ \"Model\": { \"Threads\": \"many\" }, \"Actions\": { \"Rules\": 3 } }");
        TestModels.Save(HostileModels.InputOf(50_000, 50_000), dir.File("huge.onnx"));
        var cases = new[]
        {
            (new[] { "run", "--config", dir.File("missing.json") }, "does not exist"),
            (new[] { "check", "--config", dir.File("bad.json") }, "line 1, column 23"),
            (new[] { "check", "--config", dir.File("typed.json") }, "Model:Threads: expected a whole number"),
            (new[] { "classify", "--model", dir.File("missing.onnx"), Path.Combine(RepoPaths.Models, "samples") }, "does not exist"),
            (new[] { "classify", "--model", dir.File("huge.onnx"), Path.Combine(RepoPaths.Models, "samples") }, "50000x50000 pixels"),
            (new[] { "inspect", dir.File("bad.json") }, "not a valid ONNX model"),
            (new[] { "run", "--Http:Url=http://127.0.0.1:8780/x" }, "has a path"),
        };
        foreach (var (args, expected) in cases)
        {
            var psi = new System.Diagnostics.ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = System.Diagnostics.Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            Assert.That(p.WaitForExit(30_000), Is.True);
            Assert.That(p.ExitCode, Is.EqualTo(1), string.Join(' ', args));
            var lines = err.Result.Trim().Split('\n');
            Assert.That(lines, Has.Length.EqualTo(1), err.Result);
            Assert.That(lines[0], Does.StartWith("edged: error: ").And.Contain(expected));
            Assert.That(System.Text.RegularExpressions.Regex.IsMatch(lines[0], @"\b[A-Z][A-Za-z]+_[A-Z][A-Za-z]+"), Is.False, $"a resource key in: {lines[0]}");
        }
    }
}
