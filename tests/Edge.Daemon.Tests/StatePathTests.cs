using System.Diagnostics;
using System.Text.Json;
using Edge.Daemon.Storage;

namespace Edge.Daemon.Tests;

/// <summary>Where `edged run` records by default, and one daemon per store.</summary>
[NonParallelizable]
public class StatePathTests
{
    private static Func<string, string?> Env(params (string Key, string Value)[] vars) =>
        key => vars.FirstOrDefault(v => v.Key == key).Value;

    [Test]
    public void TheStateDirectoryIsSystemdsThenXdgThenHome()
    {
        var systemd = StateDirectory.Resolve(Env(("STATE_DIRECTORY", "/var/lib/edge:/var/lib/other"), ("XDG_STATE_HOME", "/x"), ("HOME", "/home/u")));
        Assert.That(systemd, Is.EqualTo(new StateDirectory("/var/lib/edge", "systemd StateDirectory")));
        Assert.That(systemd.Results, Is.EqualTo("/var/lib/edge/edged-results.db"));
        Assert.That(StateDirectory.Resolve(Env(("XDG_STATE_HOME", "/x/state"), ("HOME", "/home/u"))).Path, Is.EqualTo("/x/state/edge"));
        // A relative XDG value is invalid by the XDG spec and ignored, as is a relative STATE_DIRECTORY.
        Assert.That(StateDirectory.Resolve(Env(("STATE_DIRECTORY", "rel"), ("XDG_STATE_HOME", "state"), ("HOME", "/home/u"))).Path,
            Is.EqualTo("/home/u/.local/state/edge"));
        var none = StateDirectory.Resolve(Env());
        Assert.That(none.Path, Is.EqualTo(Directory.GetCurrentDirectory()));
        Assert.That(none.Origin, Does.StartWith("working directory"));
    }

    [Test]
    public async Task ResultsGoToTheStateDirectoryAndTheDaemonSaysWhere()
    {
        using var state = new TempDir();
        using var work = new TempDir();
        await using var d = new DaemonProcess(["--Source:Fps=50", "--Trigger:MaxRate=50"], new Dictionary<string, string> { ["STATE_DIRECTORY"] = state.Path }, work.Path);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => JsonDocument.Parse(await d.Client.GetStringAsync("api/results?limit=1")).RootElement.GetProperty("last_id").GetInt64() >= 3,
            "stored results");
        Assert.That(await d.StopAsync(), Is.Zero);
        Assert.That(File.Exists(Path.Combine(state.Path, "edged-results.db")), d.Log);
        Assert.That(Directory.GetFiles(work.Path), Is.Empty, "nothing is written to the working directory");
        Assert.That(d.Log, Does.Contain($"results: {state.Path}/edged-results.db (systemd StateDirectory)"));
    }

    [Test]
    public async Task ASecondDaemonOnTheSameStoreIsRefusedAndTheFirstKeepsRunning()
    {
        using var dir = new TempDir();
        var db = dir.File("results.db");
        await using var first = new DaemonProcess([$"--Store:Path={db}", "--Source:Fps=20", "--Trigger:MaxRate=20"]);
        await first.WaitListeningAsync();
        await using var second = new DaemonProcess([$"--Store:Path={db}"]);
        await second.WaitUntilAsync(() => Task.FromResult(second.HasExited), "the second daemon to exit");
        Assert.That(second.ExitCode, Is.Not.Zero);
        var lines = second.Log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.That(lines, Has.Some.EqualTo($"edged: error: Store:Path: '{db}' is in use by another edged (pid {first.Pid}); stop it, or give this one its own Store:Path (and Http:Url)"),
            second.Log);
        Assert.That(second.Log, Does.Not.Contain("   at "), "no stack trace");

        // A symbolic link to the same store is the same store.
        var link = dir.File("alias.db");
        File.CreateSymbolicLink(link, db);
        await using var viaLink = new DaemonProcess([$"--Store:Path={link}"]);
        await viaLink.WaitUntilAsync(() => Task.FromResult(viaLink.HasExited), "the daemon given a link to exit");
        Assert.That(viaLink.Log, Does.Contain($"'{link}' is in use by another edged (pid {first.Pid})"), viaLink.Log);

        long Classified() => JsonDocument.Parse(first.Client.GetStringAsync("api/status").Result).RootElement.GetProperty("frames_classified").GetInt64();
        var before = Classified();
        await first.WaitUntilAsync(() => Task.FromResult(Classified() > before + 2), "the first daemon to go on classifying");

        // A daemon that dies leaves no stale lock: the kernel releases it with the process.
        Process.Start("kill", ["-KILL", first.Pid.ToString()])!.WaitForExit();
        await first.DisposeAsync();
        await using var third = new DaemonProcess([$"--Store:Path={db}"]);
        await third.WaitListeningAsync();
        Assert.That(await third.StopAsync(), Is.Zero, third.Log);
    }
}

/// <summary>The working directory is only where edged was started: nothing in it is read or watched.</summary>
[NonParallelizable]
public class WorkingDirectoryTests
{
    [Test]
    public async Task AnAppsettingsFileOrALargeTreeInTheWorkingDirectoryIsNeitherReadNorWatched()
    {
        using var work = new TempDir();
        File.WriteAllText(work.File("appsettings.json"), "{ not json");
        for (var i = 0; i < 300; i++) Directory.CreateDirectory(work.File($"tree/d{i}"));
        await using var d = new DaemonProcess([], workDir: work.Path);
        await d.WaitListeningAsync();
        // Every inotify watch the process holds is one "inotify wd:" line in its fdinfo.
        var watches = Directory.GetFiles($"/proc/{d.Pid}/fdinfo")
            .Sum(f => { try { return File.ReadLines(f).Count(l => l.StartsWith("inotify wd:", StringComparison.Ordinal)); } catch (IOException) { return 0; } });
        Assert.That(watches, Is.LessThan(10), "no watch per subdirectory of the working directory");
        Assert.That(await d.StopAsync(), Is.Zero, d.Log);
        Assert.That(d.Log, Does.Not.Contain("appsettings"));
    }
}
