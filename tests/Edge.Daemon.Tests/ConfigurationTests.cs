using Edge.Cli;
using Edge.Daemon.Cli;
using Edge.Daemon.Configuration;
using Edge.Daemon.Http;

namespace Edge.Daemon.Tests;

/// <summary>The one settings reader: every bad key named in one run, with where it came from.</summary>
public class ConfigurationTests
{
    private static readonly Dictionary<string, string?> NoEnvironment = [];

    private static string Error(string json, string[]? args = null, Dictionary<string, string?>? env = null)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("edged.json"), json);
        var e = Assert.Throws<CliError>(() => OptionsLoader.Load(dir.File("edged.json"), args ?? [], env ?? NoEnvironment))!;
        Assert.That(e.Message, Does.Not.Contain("\n"), "one line");
        return e.Message;
    }

    [Test]
    public void EveryUnknownKeyIsListedInOneRunWithASuggestion()
    {
        var m = Error("""{ "Sorce": { "Kind": "pipe" }, "Model": { "Treads": 2, "Path2": "x" }, "Trigger": { "Motion": { "RoiWdth": 0.5 } } }""");
        Assert.That(m, Does.Contain("Sorce: unknown key (did you mean Source?) (").And.Contain("edged.json line 1"));
        Assert.That(m, Does.Contain("Model:Treads: unknown key (did you mean Threads?)"));
        Assert.That(m, Does.Contain("Model:Path2: unknown key (did you mean Path?)"));
        Assert.That(m, Does.Contain("Trigger:Motion:RoiWdth: unknown key (did you mean RoiWidth?)"));
    }

    [Test]
    public void WronglyTypedValuesAndSectionsAreRefusedWithTheKeyNamed()
    {
        var m = Error("""
            {
              "Actions": { "Rules": { "Label": "x" } },
              "Source": { "Kind": "pipe", "Command": ["rpicam-vid", "-o", "-"], "Fps": "fast" },
              "Model": 5,
              "Store": { "Enabled": "yes", "MaxRows": 2.5 },
              "Http": { "Url": { "Host": "x" } }
            }
            """);
        Assert.That(m, Does.Contain("Actions:Rules: expected a list [ ... ] (indexed as :0, :1, ...), got a section { ... } (").And.Contain("line 2)"));
        Assert.That(m, Does.Contain("Source:Command: expected a string, got a list [ ... ] (").And.Contain("line 3)"));
        Assert.That(m, Does.Contain("Source:Fps: expected a number, got \"fast\""));
        Assert.That(m, Does.Contain("Model: expected a section { ... }, got 5 (").And.Contain("line 4)"));
        Assert.That(m, Does.Contain("Store:Enabled: expected true or false, got \"yes\""));
        Assert.That(m, Does.Contain("Store:MaxRows: expected a whole number, got 2.5"));
        Assert.That(m, Does.Contain("Http:Url: expected a string, got a section { ... }"));
        // Checks of settings that did bind still run in the same pass.
        Assert.That(m, Does.Not.Contain("Source:Command: is required"), "not a second complaint about a key already named");
    }

    [Test]
    public void BadValuesAndUnknownKeysAreReportedTogether()
    {
        var m = Error("""{ "Model": { "Threads": 4000, "TopK": 0 }, "Source": { "Kind": "folder", "Fps": 1e-9 }, "Typo": 1 }""");
        Assert.That(m, Does.Contain("Model:Threads: must be 0 (automatic: the cores, at most 4) .. 64, got 4000"));
        Assert.That(m, Does.Contain("Model:TopK: must be 1..100, got 0"));
        Assert.That(m, Does.Contain("Source:Fps: must be 0.001..1000"));
        Assert.That(m, Does.Contain("Typo: unknown key"));
    }

    [TestCase("""{ "Source": { "Kind": "pipe", }, }""", null)]
    [TestCase("""{ "Source": { "Kind": "pipe" """, "line 1, column")]
    [TestCase("{\n  \"Source\": {\n    \"Kind\": pipe\n  }\n}", "line 3, column 13")]
    [TestCase("""[1, 2]""", "must hold a JSON object")]
    public void JsonErrorsGiveLineAndColumn(string json, string? expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("edged.json"), json);
        if (expected is null)
        {
            // Trailing commas and comments are accepted (as ASP.NET's JSON configuration accepts them).
            var e = Assert.Throws<CliError>(() => OptionsLoader.Load(dir.File("edged.json"), [], NoEnvironment))!;
            Assert.That(e.Message, Does.Contain("Source:Command: is required"));
            return;
        }
        var error = Assert.Throws<CliError>(() => OptionsLoader.Load(dir.File("edged.json"), [], NoEnvironment))!;
        Assert.That(error.Message, Does.Contain(expected).And.Contain("edged.json"));
        Assert.That(error.Message, Does.Not.Contain("Error_").And.Not.Contain("LineNumber:"));
    }

    [Test]
    public void EnvironmentAndArgumentsOverrideTheFileKeyByKeyIncludingListItems()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("edged.json"), """
            { "Source": { "Kind": "pipe", "Command": "from-file" },
              "Actions": { "Rules": [ { "Label": "a", "Pin": 5 } ] } }
            """);
        var env = new Dictionary<string, string?> { ["EDGED_Source__Command"] = "from-env", ["EDGED_DEBUG"] = "1", ["OTHER"] = "x" };
        var o = OptionsLoader.Load(dir.File("edged.json"), ["--actions:rules:0:pin=7", "--Actions:Rules:1:Label", "b", "--Actions:Rules:1:Pin=8", "--Model:Threads=2"], env);
        Assert.That(o.Source.Command, Is.EqualTo("from-env"));
        Assert.That(o.Actions.Rules.Select(r => (r.Label, r.Pin)), Is.EqualTo(new[] { ("a", 7), ("b", 8) }));
        Assert.That(o.Model.Threads, Is.EqualTo(2));
        Assert.That(o.Store.Enabled, Is.True, "defaults stay");
    }

    [Test]
    public void AnUnknownEnvironmentSettingIsNamedByItsVariable()
    {
        var e = Assert.Throws<CliError>(() => OptionsLoader.Load(null, [], new Dictionary<string, string?> { ["EDGED_Sorce__Kind"] = "pipe" }))!;
        Assert.That(e.Message, Does.Contain("Sorce: unknown key (did you mean Source?) (environment EDGED_Sorce__Kind)"));
        var a = Assert.Throws<CliError>(() => OptionsLoader.Load(null, ["Source:Kind=pipe"], NoEnvironment))!;
        Assert.That(a.ExitCode, Is.EqualTo(ExitCodes.Usage));
        Assert.That(a.Message, Does.Contain("--Section:Key=Value"));
    }

    [Test]
    public void AByteOrderMarkIsFineInvalidUtf8AndDuplicateKeysAreNot()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("bom.json"), [0xEF, 0xBB, 0xBF, .. "{ \"Model\": { \"TopK\": 3 } }"u8]);
        Assert.That(OptionsLoader.Load(dir.File("bom.json"), [], NoEnvironment).Model.TopK, Is.EqualTo(3));
        File.WriteAllBytes(dir.File("latin1.json"), [.. "{ \"Source\": { \"Command\": \"caf"u8, 0xE9, .. "\" } }"u8]);
        var e = Assert.Throws<CliError>(() => OptionsLoader.Load(dir.File("latin1.json"), [], NoEnvironment))!;
        Assert.That(e.Message, Does.Contain("is not valid UTF-8"));
        var d = Error("{\n  \"Model\": { \"TopK\": 3 },\n  \"model\": { \"TopK\": 4 }\n}");
        Assert.That(d, Does.Contain("key 'model' is given twice in one section (line 2 and line 3)"));
    }

    [Test]
    public void EndpointsThatWouldCollideAndSnapshotsIntoTheSourceFolderAreRefused()
    {
        using var dir = new TempDir();
        var m = Error($$"""{ "Http": { "Url": "http://localhost:8780;http://127.0.0.1:8780" }, "Source": { "Kind": "folder", "Path": "{{dir.Path}}" }, "Actions": { "Snapshots": { "Folder": "{{dir.Path}}/snaps" } } }""");
        Assert.That(m, Does.Contain("repeats port 8780 on the same address"));
        Assert.That(m, Does.Contain("Actions:Snapshots:Folder: ").And.Contain("overlaps Source:Path"));
    }

    [Test]
    public void AnOversizedOrSpecialConfigFileIsRefused()
    {
        using var dir = new TempDir();
        File.CreateSymbolicLink(dir.File("edged.json"), "/dev/zero");
        var e = Assert.Throws<CliError>(() => OptionsLoader.Load(dir.File("edged.json"), [], NoEnvironment))!;
        Assert.That(e.Message, Does.Contain("character device"));
        File.Delete(dir.File("edged.json"));
        File.WriteAllText(dir.File("edged.json"), "{" + new string(' ', 2 << 20) + "}");
        e = Assert.Throws<CliError>(() => OptionsLoader.Load(dir.File("edged.json"), [], NoEnvironment))!;
        Assert.That(e.Message, Does.Contain("over the limit of 1 MiB"));
    }
}

/// <summary>Http:Url is parsed into exactly the endpoints that will listen.</summary>
public class HttpEndpointsTests
{
    private static (List<HttpEndpoint> Endpoints, List<string> Errors) Parse(string url)
    {
        var errors = new List<string>();
        return (HttpEndpoints.Parse(url, errors), errors);
    }

    [Test]
    public void EverySemicolonSeparatedEndpointIsParsedAndJudged()
    {
        var (e, errors) = Parse("http://127.0.0.1:8780/;http://0.0.0.0:8781");
        Assert.That(errors, Is.Empty);
        Assert.That(e.Select(x => (x.ToString(), x.IsLoopback)), Is.EqualTo(new[] { ("http://127.0.0.1:8780", true), ("http://0.0.0.0:8781", false) }));
    }

    [Test]
    public void MappedAddressesAreTheAddressesTheyCarry()
    {
        var (e, errors) = Parse("http://[::ffff:127.0.0.1]:8780;http://[::ffff:0.0.0.0]:8781;http://[::1]:8782;http://[::]:8783;http://localhost:8784");
        Assert.That(errors, Is.Empty);
        Assert.That(e.Select(x => x.IsLoopback), Is.EqualTo(new[] { true, false, true, false, true }));
        Assert.That(e[0].ToString(), Is.EqualTo("http://127.0.0.1:8780"));
        Assert.That(e[1].ToString(), Is.EqualTo("http://0.0.0.0:8781"));
    }

    [TestCase("http://127.0.0.1:8780/edged", "has a path or query")]
    [TestCase("http://127.0.0.1:8780/?x=1", "has a path or query")]
    [TestCase("https://127.0.0.1:8780", "uses https")]
    [TestCase("http://camera.local:8780", "names the host 'camera.local'")]
    [TestCase("http://user:pw@127.0.0.1:8780", "has a user name")]
    [TestCase("http://*:8780", "is not a URL")]
    [TestCase("http://127.0.0.1:0", "needs a port")]
    [TestCase("http://127.0.0.1:8780;http://0.0.0.0:8780", "repeats port 8780")]
    [TestCase(" ; ", "is empty")]
    public void WhatCannotBeBoundExactlyIsRefusedClearly(string url, string expected)
    {
        var (_, errors) = Parse(url);
        Assert.That(errors, Has.Some.Contains("Http:Url: ").And.Some.Contains(expected));
    }
}
