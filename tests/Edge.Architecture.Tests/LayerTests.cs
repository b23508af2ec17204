using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Edge.Architecture.Tests;

/// <summary>
/// The layers, from the bottom: Edge.Onnx (model files) → Edge.Core (the device runtime) → Edge.Cli
/// (what both tools share) → Edge.Daemon (edged) on the device; Edge.Host (data sets, quantization,
/// evaluation) → Edge.ModelPrep (edge-prep, TorchSharp) on the desktop. Read from the built assemblies'
/// own reference tables, so a rule cannot be dodged by a using directive or a reflection trick.
/// </summary>
public class LayerTests
{
    private static readonly string Configuration =
        Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd('/'))!); // bin/CONFIG/net10.0

    private static string DaemonOutput => Output("src/Edge.Daemon", "edged.dll");
    private static string PrepOutput => Output("tools/Edge.ModelPrep", "edge-prep.dll");

    /// <summary>The folder holding <paramref name="dll"/> in a project's output for this configuration.</summary>
    private static string Output(string project, string dll)
    {
        var bin = Path.Combine(RepoPaths.Root, project, "bin", Configuration);
        var found = Directory.Exists(bin) ? Directory.GetFiles(bin, dll, SearchOption.AllDirectories) : [];
        Assert.That(found, Is.Not.Empty, $"{dll} is not built under {bin}");
        return Path.GetDirectoryName(found.OrderByDescending(File.GetLastWriteTimeUtc).First())!;
    }

    private static IReadOnlyList<string> DirectReferences(string dll)
    {
        using var stream = File.OpenRead(dll);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        return [.. md.AssemblyReferences.Select(h => md.GetString(md.GetAssemblyReference(h).Name))];
    }

    /// <summary>Every assembly <paramref name="name"/> reaches through references found in <paramref name="folder"/>.</summary>
    private static HashSet<string> Closure(string folder, string name)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal) { name };
        var queue = new Queue<string>([name]);
        while (queue.TryDequeue(out var next))
        {
            var file = Path.Combine(folder, next + ".dll");
            if (!File.Exists(file)) continue; // framework assemblies live elsewhere and reference no Edge code
            foreach (var r in DirectReferences(file))
                if (seen.Add(r)) queue.Enqueue(r);
        }
        return seen;
    }

    [Test]
    public void TheDeviceBinaryLinksNeitherTheHostLibraryNorTorchSharp()
    {
        var reach = Closure(DaemonOutput, "edged");
        Assert.That(reach, Does.Contain("Edge.Core").And.Contain("Edge.Onnx").And.Contain("Edge.Cli"), "the rule reads real references");
        Assert.That(reach, Does.Not.Contain("Edge.Host").And.Not.Contain("edge-prep").And.Not.Contain("TorchSharp"));
        // And the build says the same: nothing of the host side is deployed beside edged.
        var deps = File.ReadAllText(Path.Combine(DaemonOutput, "edged.deps.json"));
        using var doc = JsonDocument.Parse(deps);
        var libraries = doc.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name.Split('/')[0]).ToList();
        Assert.That(libraries, Does.Contain("Edge.Core"));
        Assert.That(libraries, Has.None.StartsWith("Edge.Host").And.None.StartsWith("TorchSharp").And.None.StartsWith("libtorch"));
    }

    [Test]
    public void TheRuntimeAndTheModelFileLayerReferenceNothingAboveThem()
    {
        var folder = PrepOutput; // holds every Edge library
        var core = Closure(folder, "Edge.Core");
        Assert.That(core, Does.Contain("Edge.Onnx").And.Contain("Microsoft.ML.OnnxRuntime"));
        Assert.That(core, Has.None.Matches<string>(a => a is "edged" or "edge-prep" or "Edge.Daemon" or "Edge.Host" or "Edge.Cli" || a.StartsWith("TorchSharp", StringComparison.Ordinal)));
        var onnx = Closure(folder, "Edge.Onnx");
        Assert.That(onnx, Has.None.Matches<string>(a => a.StartsWith("Edge.", StringComparison.Ordinal) && a != "Edge.Onnx" || a.StartsWith("TorchSharp", StringComparison.Ordinal) || a == "Microsoft.ML.OnnxRuntime"));
        var cli = Closure(folder, "Edge.Cli");
        Assert.That(cli, Has.None.Matches<string>(a => a is "edged" or "edge-prep" or "Edge.Host" || a.StartsWith("TorchSharp", StringComparison.Ordinal)));
        var host = Closure(folder, "Edge.Host");
        Assert.That(host, Has.None.Matches<string>(a => a is "edged" or "edge-prep" or "Edge.Cli" || a.StartsWith("TorchSharp", StringComparison.Ordinal)),
            "the host library needs no training framework and no command line");
    }

    [Test]
    public void EachProjectReferencesWhatItUsesDirectly()
    {
        // A project that uses a layer names it: a transitive reference that disappears must not break a build far away.
        foreach (var (dll, folder) in new[] { ("edged", DaemonOutput), ("edge-prep", PrepOutput), ("Edge.Host", PrepOutput), ("Edge.Cli", PrepOutput), ("Edge.Core", PrepOutput) })
        {
            var project = ProjectOf(dll);
            var declared = ProjectReferences(project);
            var used = DirectReferences(Path.Combine(folder, dll + ".dll")).Where(r => r.StartsWith("Edge.", StringComparison.Ordinal));
            Assert.That(declared, Is.SupersetOf(used), $"{project} uses these Edge assemblies; its project file must reference each");
        }
    }

    private static string ProjectOf(string assembly) => assembly switch
    {
        "edged" => "src/Edge.Daemon/Edge.Daemon.csproj",
        "edge-prep" => "tools/Edge.ModelPrep/Edge.ModelPrep.csproj",
        "Edge.Host" => "tools/Edge.Host/Edge.Host.csproj",
        var other => $"src/{other}/{other}.csproj",
    };

    private static IReadOnlyList<string> ProjectReferences(string project) =>
        [.. Regex.Matches(File.ReadAllText(Path.Combine(RepoPaths.Root, project)), "<ProjectReference Include=\"[^\"]*/([^/\"]+)\\.csproj\"")
            .Select(m => m.Groups[1].Value)];

    [Test]
    public void LayersBelowTheToolsNameNoCommandLineFlag()
    {
        // Flags belong to edged and edge-prep; below them a failure is a typed exception whose message
        // names the file, key or setting, and the tool adds its own flag (see MissingSettingException).
        var flag = new Regex("\"[^\"\\n]*(?<![\\w-])--[a-z][a-z-]+", RegexOptions.Compiled);
        var offenders = new List<string>();
        foreach (var folder in new[] { "src/Edge.Onnx", "src/Edge.Core", "tools/Edge.Host" })
            foreach (var file in Directory.GetFiles(Path.Combine(RepoPaths.Root, folder), "*.cs", SearchOption.AllDirectories)
                         .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal)))
            {
                var lines = File.ReadAllLines(file);
                for (var i = 0; i < lines.Length; i++)
                    if (!lines[i].TrimStart().StartsWith("//", StringComparison.Ordinal) && flag.IsMatch(lines[i]))
                        offenders.Add($"{Path.GetRelativePath(RepoPaths.Root, file)}:{i + 1}: {lines[i].Trim()}");
            }
        Assert.That(offenders, Is.Empty);
    }

    [Test]
    public void TheFlagRuleFindsAFlagWhereThereIsOne()
    {
        // The rule above would pass on nothing; it must catch the kind of line it is meant for.
        var flag = new Regex("\"[^\"\\n]*(?<![\\w-])--[a-z][a-z-]+", RegexOptions.Compiled);
        Assert.That(flag.IsMatch("throw new X(\"give the size with --input-size\");"), Is.True);
        Assert.That(flag.IsMatch("var s = \"a---b\"; // x"), Is.False);
        Assert.That(flag.IsMatch("throw new X(\"input_size is missing\");"), Is.False);
    }
}
