using System.Diagnostics;
using Edge.Build;

namespace Edge.ModelPrep.Tests;

/// <summary>The build step that lets TorchSharp's native library load on Debian 12 (checked with binutils' readelf).</summary>
public class ElfVersionPatcherTests
{
    private static string Original()
    {
        var home = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(home, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (!File.Exists(path)) Assert.Ignore($"the TorchSharp package is not in the NuGet cache at {path}");
        return path;
    }

    private static string ReadElfVersions(string path)
    {
        var psi = new ProcessStartInfo("readelf", ["-V", "--wide", path]) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return text;
    }

    [Test]
    public void MarksOnlyTheMissingVersionsWeakAndIsIdempotent()
    {
        using var dir = new TempDir();
        var copy = dir.File("libLibTorchSharp.so");
        File.Copy(Original(), copy);
        var before = File.ReadAllBytes(copy);

        // A libstdc++ that stops at 3.4.30, as Debian 12's: only 3.4.31+ may change.
        var available = new HashSet<string>(Enumerable.Range(1, 30).Select(i => $"GLIBCXX_3.4.{i}")
            .Concat(Enumerable.Range(1, 13).Select(i => $"CXXABI_1.3.{i}")).Concat(["GLIBCXX_3.4", "CXXABI_1.3"]));
        var bytes = (byte[])before.Clone();
        var changed = ElfVersionPatcher.WeakenMissing(bytes, "libstdc++.so.6", available, apply: true);
        Assert.That(changed, Is.EqualTo(new[] { "GLIBCXX_3.4.32" }));
        var diff = Enumerable.Range(0, bytes.Length).Where(i => bytes[i] != before[i]).ToList();
        Assert.That(diff, Has.Count.EqualTo(1), "one flag byte");
        File.WriteAllBytes(copy, bytes);
        var listing = ReadElfVersions(copy);
        Assert.That(listing, Does.Match(@"Name: GLIBCXX_3\.4\.32\s+Flags: WEAK"));
        Assert.That(listing, Does.Match(@"Name: GLIBCXX_3\.4\.30\s+Flags: none"));

        Assert.That(ElfVersionPatcher.WeakenMissing(bytes, "libstdc++.so.6", available, apply: true), Is.Empty, "already weak");
        var complete = new HashSet<string>(available) { "GLIBCXX_3.4.31", "GLIBCXX_3.4.32" };
        var fresh = (byte[])before.Clone();
        Assert.That(ElfVersionPatcher.WeakenMissing(fresh, "libstdc++.so.6", complete, apply: true), Is.Empty, "a newer libstdc++ needs nothing");
        Assert.That(fresh, Is.EqualTo(before));
    }

    [Test]
    public void ReadsTheSystemLibStdCxxVersionsAndTheBuildOutputIsPatched()
    {
        var system = ElfVersionPatcher.FindSystemLibStdCxx();
        Assert.That(system, Is.Not.Null);
        var defined = ElfVersionPatcher.DefinedVersions(File.ReadAllBytes(system!));
        Assert.That(defined, Does.Contain("GLIBCXX_3.4.30").And.Contain("CXXABI_1.3.13"));
        // What the build did to the copy beside this test: nothing left that this system lacks.
        var output = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        Assert.That(ElfVersionPatcher.WeakenMissing(File.ReadAllBytes(output), "libstdc++.so.6", defined, apply: false), Is.Empty);
        Assert.That(() => ElfVersionPatcher.DefinedVersions([1, 2, 3]), Throws.TypeOf<InvalidDataException>());
    }
}
