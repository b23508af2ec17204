using System.Globalization;
using System.Text.RegularExpressions;
using Edge.Daemon.Configuration;

namespace Edge.Daemon.Tests;

/// <summary>
/// The systemd unit (checked by systemd-analyze), the Debian package (dpkg-deb, lintian) and its life in a
/// real Debian 12 chroot made by debootstrap: install, upgrade keeping the user's config and results,
/// remove, purge.
/// </summary>
[NonParallelizable]
[Category(Needs.Packaging)]
public class PackagingTests
{
    private static string Packaging => Path.Combine(RepoPaths.Root, "tools", "packaging");
    private static string Unit => Path.Combine(Packaging, "edged.service");
    private static string Published => Path.Combine(RepoPaths.Root, "artifacts", "edged-linux-x64");

    private static string Version =>
        Regex.Match(File.ReadAllText(Path.Combine(RepoPaths.Root, "Directory.Build.props")), "<Version>([^<]+)</Version>").Groups[1].Value;

    [Test]
    public void TheUnitPassesSystemdAnalyzeVerify()
    {
        // verify needs the units the service refers to and ExecStart's binary: a private root with the host's
        // units and a stand-in for /usr/bin/edged, so nothing is installed on this machine.
        using var root = new TempDir();
        Directory.CreateDirectory(root.File("usr/lib/systemd"));
        Tool.Ok("cp", "-a", "/usr/lib/systemd/system", root.File("usr/lib/systemd/"));
        Directory.CreateDirectory(root.File("usr/bin"));
        File.Copy("/bin/true", root.File("usr/bin/edged"));
        var units = Directory.CreateDirectory(root.File("etc/systemd/system")).FullName;

        File.Copy(Unit, Path.Combine(units, "edged.service"));
        // --man=no: Documentation=man:edged(1) names the page the package installs, which this machine has not.
        var verified = Tool.Run("systemd-analyze", ["verify", "--man=no", $"--root={root.Path}", "edged.service"]);
        Assert.That(verified.ExitCode, Is.Zero, verified.Output);
        Assert.That(verified.Output.Trim(), Is.Empty, "no warning about any line of the unit");

        // The same check does see a mistake, so its silence above means something.
        File.WriteAllText(Path.Combine(units, "edged.service"), File.ReadAllText(Unit).Replace("ProtectSystem=strict", "ProtectSystm=strict"));
        Assert.That(Tool.Run("systemd-analyze", ["verify", "--man=no", $"--root={root.Path}", "edged.service"]).Output, Does.Contain("Unknown key 'ProtectSystm'"));
    }

    [Test]
    public void TheUnitIsHardenedAndItsExposureScoreIsTheOneTheReadmeStates()
    {
        var r = Tool.Run("systemd-analyze", ["security", "--offline=true", "--no-pager", Unit]);
        Assert.That(r.ExitCode, Is.Zero, r.Output);
        var m = Regex.Match(r.Stdout, @"Overall exposure level for edged\.service: (\d+\.\d)");
        Assert.That(m.Success, r.Output);
        var score = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.That(score, Is.LessThanOrEqualTo(2.0), r.Stdout);
        Assert.That(File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md")), Does.Contain($"exposure level {m.Groups[1].Value}"),
            "the README states the score systemd-analyze gives");

        var settings = File.ReadAllLines(Unit).Where(l => l.Contains('=') && !l.StartsWith('#')).ToList();
        foreach (var expected in new[]
        {
            "Type=notify", "Restart=on-failure", "User=edge", "SupplementaryGroups=video gpio", "StateDirectory=edge", "ConfigurationDirectory=edge",
            "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes", "DevicePolicy=closed",
            "DeviceAllow=char-video4linux rw", "DeviceAllow=char-gpiochip rw", "MemoryDenyWriteExecute=yes", "CapabilityBoundingSet=",
        })
            Assert.That(settings, Does.Contain(expected));
        Assert.That(settings.Any(s => Regex.IsMatch(s, @"^WatchdogSec=\d+$")) && settings.Any(s => s.StartsWith("MemoryMax=")) && settings.Any(s => s.StartsWith("CPUQuota=")));
        Assert.That(settings, Has.Some.StartsWith("ExecStart=/usr/bin/edged run --config /etc/edge/edged.json"));
    }

    [Test]
    public void TheShippedConfigurationIsValid()
    {
        var o = OptionsLoader.Load(Path.Combine(Packaging, "edged.json"), [], new Dictionary<string, string?>());
        Assert.That(o.Store.Path, Is.Null, "results go to the service's state directory");
        Assert.That(o.Http.Url, Does.StartWith("http://127.0.0.1:"), "loopback only until a token is set");
    }

    /// <summary>
    /// MemoryDenyWriteExecute= is a seccomp rule systemd cannot show here (no systemd as PID 1): the kernel's own
    /// PR_SET_MDWE (Linux 6.3+) enforces the same rule on a process and its children, so the AOT binary is run under it.
    /// </summary>
    [Test, Category(Needs.Aot), Category(Needs.Python)]
    public async Task ThePublishedBinaryClassifiesAndServesUnderMemoryDenyWriteExecute()
    {
        var edged = Path.Combine(Published, "edged");
        if (!File.Exists(edged)) Assert.Ignore("no published binary: run tools/publish.sh (CI does before the tests)");
        using var dir = new TempDir();
        var wrapper = dir.File("mdwe.py");
        File.WriteAllText(wrapper, """
            import ctypes, mmap, os, sys
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
                sys.exit("PR_SET_MDWE: errno %d" % ctypes.get_errno())
            try:
                mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
                sys.exit("MDWE is not enforced")
            except OSError:
                pass
            os.execv(sys.argv[1], sys.argv[1:])
            """);
        Needs.Check(Needs.Python);
        var classify = Tool.Run(Python.Interpreter, [wrapper, edged, "classify", "--json", Path.Combine(Published, "models", "fashion-samples"),
            "--model", Path.Combine(Published, "models", "fashion-mnist-resnet20-pruned.int8.onnx")]);
        Assert.That(classify.ExitCode, Is.Zero, classify.Output);
        Assert.That(Regex.Matches(classify.Stdout, "\"label\"").Count, Is.GreaterThanOrEqualTo(10));
        // Native AOT fixes AvxVnni.IsSupported at compile time: the published binary must still ask the CPU it runs on.
        Assert.That(classify.Stderr.Contains("no VNNI"), Is.EqualTo(CpuFlags.SaturatesEightBitCodes), "saturation warning against /proc/cpuinfo: " + classify.Stderr);
        var inspect = Tool.Run(edged, ["inspect", "--json", Path.Combine(Published, "models", "fashion-mnist-resnet20-pruned.int8.onnx")]);
        Assert.That(inspect.ExitCode, Is.Zero, inspect.Output);
        Assert.That(inspect.Stdout, Does.Contain(CpuFlags.SaturatesEightBitCodes ? "\"exact_here\": false" : "\"exact_here\": true"));

        var port = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        port.Start();
        var url = $"http://127.0.0.1:{((System.Net.IPEndPoint)port.LocalEndpoint).Port}";
        port.Stop();
        var psi = new System.Diagnostics.ProcessStartInfo(Python.Interpreter) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { wrapper, edged, "run", $"--Http:Url={url}", $"--Store:Path={dir.File("r.db")}" }) psi.ArgumentList.Add(a);
        using var run = System.Diagnostics.Process.Start(psi)!;
        var log = run.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(5) };
            long classified = 0;
            for (var i = 0; i < 100 && classified < 3 && !run.HasExited; i++)
            {
                await Task.Delay(200);
                try { classified = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("api/status")).RootElement.GetProperty("frames_classified").GetInt64(); }
                catch (HttpRequestException) { }
            }
            Assert.That(classified, Is.GreaterThanOrEqualTo(3), "edged run classifies and serves under MDWE");
        }
        finally
        {
            if (!run.HasExited) run.Kill(true);
            run.WaitForExit();
        }
    }

    private static string BuildPackage(string outDir, string? version = null)
    {
        if (!File.Exists(Path.Combine(Published, "edged"))) Assert.Ignore("no published binary: run tools/publish.sh (CI does before the tests)");
        var args = new List<string> { "amd64", "--from", Published, "--out", outDir };
        if (version is not null) args.AddRange(["--version", version]);
        var r = Tool.Run(Path.Combine(RepoPaths.Root, "tools", "package.sh"), args);
        Assert.That(r.ExitCode, Is.Zero, r.Output);
        var deb = Path.Combine(outDir, $"edge_{version ?? Version}_amd64.deb");
        Assert.That(File.Exists(deb), r.Output);
        return deb;
    }

    [Test, Category(Needs.Aot)]
    public void ThePackageHoldsExactlyItsFilesWithTheirModesAndLintianAcceptsIt()
    {
        using var dir = new TempDir();
        var deb = BuildPackage(dir.Path);

        // "-rwxr-xr-x root/root  18238648 2026-12-03 06:47 ./usr/lib/edge/edged"
        var entries = Tool.Ok("dpkg-deb", "-c", deb).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => Regex.Match(l, @"^(\S+) (\S+)\s+(\d+) \S+ \S+ \./(.*)$"))
            .Where(m => m.Success && m.Groups[4].Value.Length > 0 && !m.Groups[4].Value.EndsWith('/'))
            .ToDictionary(m => m.Groups[4].Value, m => (Mode: m.Groups[1].Value, Owner: m.Groups[2].Value));
        var models = Directory.GetFiles(Path.Combine(RepoPaths.Root, "models"), "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".md", StringComparison.Ordinal))
            .Select(f => "usr/lib/edge/models/" + Path.GetRelativePath(Path.Combine(RepoPaths.Root, "models"), f));
        var expected = new[]
        {
            "etc/edge/edged.json", "lib/systemd/system/edged.service", "lib/udev/rules.d/60-edge-gpio.rules",
            "usr/bin/edged -> ../lib/edge/edged", "usr/lib/edge/edged", "usr/lib/edge/libSkiaSharp.so", "usr/lib/edge/libe_sqlite3.so",
            "usr/lib/edge/libonnxruntime.so", "usr/lib/edge/libonnxruntime_providers_shared.so",
            "usr/share/doc/edge/changelog.gz", "usr/share/doc/edge/copyright", "usr/share/lintian/overrides/edge", "usr/share/man/man1/edged.1.gz",
        }.Concat(models);
        Assert.That(entries.Keys, Is.EquivalentTo(expected), "no symbols (.dbg, .pdb), nothing else");
        Assert.That(entries.Values.Select(e => e.Owner).Distinct(), Is.EqualTo(new[] { "root/root" }));
        Assert.That(entries["usr/lib/edge/edged"].Mode, Is.EqualTo("-rwxr-xr-x"));
        Assert.That(entries["usr/bin/edged -> ../lib/edge/edged"].Mode, Does.StartWith("l"));
        foreach (var (path, e) in entries.Where(e => e.Key != "usr/lib/edge/edged" && !e.Key.StartsWith("usr/bin/", StringComparison.Ordinal)))
            Assert.That(e.Mode, Is.EqualTo("-rw-r--r--"), path);

        string Field(string name) => Tool.Ok("dpkg-deb", "-f", deb, name).Trim();
        Assert.That(Field("Package"), Is.EqualTo("edge"));
        Assert.That(Field("Version"), Is.EqualTo(Version));
        Assert.That(Field("Architecture"), Is.EqualTo("amd64"));
        // Debian 12 has glibc 2.36: the package must install there.
        var glibc = Regex.Match(Field("Depends"), @"libc6 \(>= 2\.(\d+)\)");
        Assert.That(glibc.Success && int.Parse(glibc.Groups[1].Value) <= 36, Field("Depends"));
        Assert.That(long.Parse(Field("Installed-Size")) * 1024, Is.LessThanOrEqualTo(60_000_000), "installed package ≤ 60 MB (issue 13)");
        Assert.That(new FileInfo(Path.Combine(Published, "edged")).Length, Is.LessThanOrEqualTo(17_000_000), "AOT binary ≤ 17 MB (issue 13)");

        using var control = new TempDir();
        Tool.Ok("dpkg-deb", "-e", deb, control.Path);
        Assert.That(File.ReadAllText(Path.Combine(control.Path, "conffiles")).Trim(), Is.EqualTo("/etc/edge/edged.json"));
        foreach (var script in new[] { "postinst", "prerm", "postrm" })
        {
            Assert.That(File.GetUnixFileMode(Path.Combine(control.Path, script)) & UnixFileMode.UserExecute, Is.Not.EqualTo(UnixFileMode.None), script);
            Tool.Ok("sh", "-n", Path.Combine(control.Path, script));
        }
        // md5sums covers every file with its real sum.
        using var tree = new TempDir();
        Tool.Ok("dpkg-deb", "-x", deb, tree.Path);
        var check = Tool.Run("sh", ["-c", $"cd '{tree.Path}' && md5sum --check --quiet '{control.Path}/md5sums' && wc -l < '{control.Path}/md5sums'"]);
        Assert.That(check.ExitCode, Is.Zero, check.Output);
        Assert.That(int.Parse(check.Stdout.Trim()), Is.EqualTo(entries.Count - 1), "every file but the symlink");
        Assert.That(File.ReadAllText(Path.Combine(tree.Path, "lib/systemd/system/edged.service")), Is.EqualTo(File.ReadAllText(Unit)));

        var lintian = Tool.Run("lintian", ["--fail-on", "error,warning", deb], TimeSpan.FromMinutes(10));
        var tags = lintian.Stdout.Split('\n').Where(l => Regex.IsMatch(l, "^[EW]: ")).ToList();
        Assert.That(tags, Is.Empty, lintian.Output);
        Assert.That(lintian.ExitCode, Is.Zero, lintian.Output);
    }

    /// <summary>The device builds keep issue 13's budget too (the x64 one is checked with its package above).</summary>
    [Test, Category(Needs.Aot)]
    public void TheArm64BinariesAreWithin17MB([Values("edged-linux-arm64", "edged-linux-arm64-glibc2.31")] string build)
    {
        var edged = Path.Combine(RepoPaths.Root, "artifacts", build, "edged");
        if (!File.Exists(edged)) Assert.Ignore($"no {build} build: run tools/publish.sh (CI's arm64 smoke does before the tests)");
        Assert.That(new FileInfo(edged).Length, Is.LessThanOrEqualTo(17_000_000), $"{build}: AOT binary ≤ 17 MB (issue 13)");
    }

    [Test, Category(Needs.Aot)]
    public void TheGlibc231PackageNeedsNothingNewerThanJetPack5AndUsesTheSystemSqlite()
    {
        var published = Path.Combine(RepoPaths.Root, "artifacts", "edged-linux-arm64-glibc2.31");
        if (!File.Exists(Path.Combine(published, "edged")))
            Assert.Ignore("no glibc-2.31 build: run tools/publish.sh linux-arm64-glibc2.31 (CI's arm64 smoke does before the tests)");
        using var dir = new TempDir();
        var r = Tool.Run(Path.Combine(RepoPaths.Root, "tools", "package.sh"), ["arm64-glibc2.31", "--from", published, "--out", dir.Path]);
        Assert.That(r.ExitCode, Is.Zero, r.Output);
        var deb = Path.Combine(dir.Path, $"edge_{Version}~glibc2.31_arm64.deb");
        string Field(string name) => Tool.Ok("dpkg-deb", "-f", deb, name).Trim();
        Assert.That(Field("Version"), Is.EqualTo(Version + "~glibc2.31"));
        Assert.That(Tool.Run("dpkg", ["--compare-versions", Field("Version"), "lt", Version]).ExitCode, Is.Zero,
            "older than the regular package, so a device moved to a newer OS upgrades to it");
        Assert.That(Field("Depends"), Does.Contain("libsqlite3-0 (>= 3.31.1)"));
        var glibc = Regex.Match(Field("Depends"), @"libc6 \(>= 2\.(\d+)\)");
        Assert.That(glibc.Success && int.Parse(glibc.Groups[1].Value) <= 31, Field("Depends"));
        using var tree = new TempDir();
        Tool.Ok("dpkg-deb", "-x", deb, tree.Path);
        var lib = Path.Combine(tree.Path, "usr", "lib", "edge");
        Assert.That(new FileInfo(Path.Combine(lib, "libe_sqlite3.so")).LinkTarget, Is.EqualTo("../aarch64-linux-gnu/libsqlite3.so.0"));
        // Ubuntu 20.04 (JetPack 5) has glibc 2.31: no file may ask for a newer symbol version.
        foreach (var elf in Directory.GetFiles(lib).Where(f => new FileInfo(f).LinkTarget is null && (f.EndsWith(".so", StringComparison.Ordinal) || f.EndsWith("edged", StringComparison.Ordinal))))
        {
            var versions = Regex.Matches(Tool.Ok("readelf", "--dyn-syms", "-W", elf), @"GLIBC_2\.(\d+)").Select(m => int.Parse(m.Groups[1].Value)).ToList();
            Assert.That(versions, Is.Not.Empty.And.All.LessThanOrEqualTo(31), Path.GetFileName(elf));
        }
        var lintian = Tool.Run("lintian", ["--fail-on", "error,warning", deb], TimeSpan.FromMinutes(10));
        Assert.That(lintian.Stdout.Split('\n').Where(l => Regex.IsMatch(l, "^[EW]: ")), Is.Empty, lintian.Output);
    }

    [Test, Category(Needs.Aot), Category(Needs.Root)]
    public void ThePackageInstallsUpgradesRemovesAndPurgesInADebianChroot()
    {
        if (Environment.UserName != "root") Assert.Inconclusive("a chroot needs root (CI and the dev machines run as root)");
        using var dir = new TempDir();
        var first = BuildPackage(dir.File("v1"));
        var second = BuildPackage(dir.File("v2"), "1.0.1");
        var root = dir.File("root");
        Tool.Ok("cp", "-a", DebianRoot(), root);
        File.Copy(first, Path.Combine(root, "tmp", "edge-1.deb"));
        File.Copy(second, Path.Combine(root, "tmp", "edge-2.deb"));
        // No systemd runs in a chroot: a stand-in systemctl (the boundary the maintainer scripts talk to, through
        // deb-systemd-helper and deb-systemd-invoke) records every call and keeps the unit's state ("preset" enables,
        // as Debian's default preset does), and /run/systemd/system says
        // "booted with systemd", so the scripts' start, restart and stop paths run.
        Directory.CreateDirectory(Path.Combine(root, "run", "systemd", "system"));
        var systemctl = Path.Combine(root, "usr", "bin", "systemctl");
        File.WriteAllText(systemctl, """
            #!/bin/sh
            echo "$*" >> /tmp/systemctl.log
            case " $* " in
              *" is-enabled "*)
                if [ -L /etc/systemd/system/edged.service ]; then echo masked; exit 1; fi
                if [ -e /etc/systemd/system/multi-user.target.wants/edged.service ]; then echo enabled; exit 0; fi
                echo disabled; exit 1 ;;
              *" is-active "*) [ -e /tmp/edged.active ] && exit 0; exit 3 ;;
              *" preset "*)
                mkdir -p /etc/systemd/system/multi-user.target.wants
                ln -sf /lib/systemd/system/edged.service /etc/systemd/system/multi-user.target.wants/edged.service ;;
              *" start "*|*" restart "*) touch /tmp/edged.active ;;
              *" stop "*) rm -f /tmp/edged.active ;;
            esac
            exit 0
            """.Replace("\r", ""));
        File.SetUnixFileMode(systemctl, (UnixFileMode)0x1ED /* 0755 */);
        string Calls()
        {
            var log = Path.Combine(root, "tmp", "systemctl.log");
            var calls = File.Exists(log) ? File.ReadAllText(log) : "";
            File.Delete(log);
            return calls;
        }
        bool Running() => File.Exists(Path.Combine(root, "tmp", "edged.active"));

        ToolRun In(params string[] command) => Tool.Run("chroot", [root, .. command], TimeSpan.FromMinutes(3));
        string Ok(params string[] command)
        {
            var r = In(command);
            Assert.That(r.ExitCode, Is.Zero, $"{string.Join(' ', command)}:\n{r.Output}");
            return r.Stdout.Trim();
        }
        string Stat(string path) => Ok("stat", "-c", "%U:%G %a %F", path);
        bool Exists(string path) => In("test", "-e", path).ExitCode == 0;

        Ok("dpkg", "-i", "/tmp/edge-1.deb");
        Assert.That(Stat("/usr/lib/edge/edged"), Is.EqualTo("root:root 755 regular file"));
        Assert.That(Stat("/etc/edge/edged.json"), Is.EqualTo("root:edge 640 regular file"), "the config may hold the API token");
        Assert.That(Stat("/var/lib/edge"), Is.EqualTo("edge:edge 750 directory"));
        Assert.That(Ok("readlink", "/usr/bin/edged"), Is.EqualTo("../lib/edge/edged"));
        var user = Ok("getent", "passwd", "edge").Split(':');
        Assert.That((user[5], user[6]), Is.EqualTo(("/var/lib/edge", "/usr/sbin/nologin")));
        Assert.That(int.Parse(user[2]), Is.LessThan(1000), "a system user");
        Ok("getent", "group", "gpio");
        Ok("getent", "group", "video");
        Assert.That(Ok("readlink", "/etc/systemd/system/multi-user.target.wants/edged.service"), Is.EqualTo("/lib/systemd/system/edged.service"),
            "enabled on install");
        Assert.That(Calls(), Does.Contain("daemon-reload").And.Contain("start edged.service"));
        Assert.That(Running(), "started on install");

        // The installed binary runs in plain Debian 12, as the service's user, on its own libraries (/proc mounted in a
        // private mount namespace that ends with the command).
        var classify = Tool.Run("unshare", ["-m", "sh", "-c",
            $"mount -t proc proc '{root}/proc' && exec chroot --userspec={user[2]}:{user[3]} '{root}' /usr/bin/edged classify --json /usr/lib/edge/models/samples"]);
        Assert.That(classify.ExitCode, Is.Zero, classify.Output);
        Assert.That(Regex.Matches(classify.Stdout, "\"label\"").Count, Is.GreaterThanOrEqualTo(6), classify.Stdout);

        // What the user changed and what the daemon recorded survive an upgrade.
        Ok("sh", "-c", "echo '// tuned by hand' >> /etc/edge/edged.json && echo results > /var/lib/edge/edged-results.db && chown edge:edge /var/lib/edge/edged-results.db");
        var tuned = Ok("cat", "/etc/edge/edged.json");
        Ok("dpkg", "--force-confold", "-i", "/tmp/edge-2.deb");
        Assert.That(Ok("dpkg-query", "-W", "-f", "${Version}", "edge"), Is.EqualTo("1.0.1"));
        var upgrade = Calls();
        Assert.That(upgrade, Does.Contain("restart edged.service").And.Not.Contain("stop edged.service"), "an upgrade restarts the one running copy");
        Assert.That(Running());
        Assert.That(Ok("cat", "/etc/edge/edged.json"), Is.EqualTo(tuned));
        Assert.That(Stat("/etc/edge/edged.json"), Is.EqualTo("root:edge 640 regular file"));
        Assert.That(Ok("cat", "/var/lib/edge/edged-results.db"), Is.EqualTo("results"));

        // Remove keeps config and results; purge deletes them.
        Ok("dpkg", "-r", "edge");
        Assert.That(Running(), Is.False, "stopped before its files go");
        Assert.That(Exists("/usr/lib/edge/edged") || Exists("/usr/bin/edged"), Is.False);
        Assert.That(Exists("/etc/edge/edged.json") && Exists("/var/lib/edge/edged-results.db"), Is.True);
        // Installed again after a remove (dpkg passes the old version, as for an upgrade): running again.
        Ok("dpkg", "-i", "/tmp/edge-2.deb");
        Assert.That(Running(), "a reinstall after remove starts the service");
        Assert.That(Ok("cat", "/etc/edge/edged.json"), Is.EqualTo(tuned), "the kept config is used");
        Ok("dpkg", "-r", "edge");
        Ok("dpkg", "-P", "edge");
        Assert.That(Exists("/etc/edge") || Exists("/var/lib/edge") || Exists("/etc/systemd/system/multi-user.target.wants/edged.service"), Is.False);
        Assert.That(In("dpkg-statoverride", "--list", "/etc/edge/edged.json").Stdout.Trim(), Is.Empty);
        Assert.That(In("dpkg-query", "-W", "edge").ExitCode, Is.Not.Zero, "the package is gone");
    }

    /// <summary>
    /// A minimal Debian 12 made once by debootstrap (about a minute from the Debian mirror apt uses) and kept in
    /// artifacts/; each test copies it.
    /// </summary>
    private static string DebianRoot()
    {
        const string packages = "adduser,init-system-helpers,libssl3";
        var cached = Path.Combine(RepoPaths.Root, "artifacts", "debian-bookworm-amd64-" + packages.Replace(',', '-'));
        if (File.Exists(Path.Combine(cached, ".complete"))) return cached;
        if (Directory.Exists(cached)) Tool.Ok("rm", "-rf", cached);
        var mirror = Regex.Match(File.Exists("/etc/apt/sources.list.d/debian.sources") ? File.ReadAllText("/etc/apt/sources.list.d/debian.sources") : "",
            @"URIs: (\S+/debian)\s").Groups[1].Value;
        var r = Tool.Run("debootstrap", ["--variant=minbase", "--include=" + packages, "bookworm", cached,
            mirror.Length > 0 ? mirror : "http://deb.debian.org/debian"], TimeSpan.FromMinutes(15));
        Assert.That(r.ExitCode, Is.Zero, r.Output);
        File.WriteAllText(Path.Combine(cached, ".complete"), "");
        return cached;
    }
}
