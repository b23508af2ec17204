using System.Diagnostics;
using System.Text.Json;

namespace Edge.Daemon.Tests;

[NonParallelizable]
public class DurabilityTests
{
    private static async Task<long> LastResultId(DaemonProcess d)
    {
        var json = JsonDocument.Parse(await d.Client.GetStringAsync("api/results?limit=1")).RootElement;
        return json.GetProperty("last_id").GetInt64();
    }

    [Category(Needs.Python)]
    [Test]
    public async Task NoAcknowledgedRowIsLostOnKill9()
    {
        using var dir = new TempDir();
        var db = dir.File("results.db");
        await using var d = new DaemonProcess([$"--Store:Path={db}", "--Source:Fps=100", "--Trigger:MaxRate=100"]);
        await d.WaitListeningAsync();
        await d.WaitUntilAsync(async () => await LastResultId(d) >= 20, "20 stored results");
        // Rows the API has served are committed: kill without any chance to flush.
        var acknowledged = await LastResultId(d);
        Process.Start("kill", ["-KILL", d.Pid.ToString()])!.WaitForExit();
        await d.DisposeAsync();
        var ids = Python.Run("""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            print(c.execute("select count(*), max(id) from results where id <= ?", (int(sys.argv[2]),)).fetchone())
            print(c.execute("pragma integrity_check").fetchone()[0])
            """, db, acknowledged.ToString()).Trim().Split('\n');
        Assert.That(ids[0], Is.EqualTo($"({acknowledged}, {acknowledged})"), "every acknowledged row is there");
        Assert.That(ids[1], Is.EqualTo("ok"));
    }

    [Category(Needs.Root)]
    [Test]
    public async Task AFullDiskPausesWritesSaysSoOnceAndResumes()
    {
        if (Environment.UserName != "root") Assert.Inconclusive("mounting a small tmpfs needs root (CI and the dev machines run as root)");
        using var dir = new TempDir();
        var mount = Directory.CreateDirectory(dir.File("small")).FullName;
        Needs.Check(Needs.Root);
        void Sh(string cmd) { var p = Process.Start("sh", ["-c", cmd])!; p.WaitForExit(); Assert.That(p.ExitCode, Is.Zero, cmd); }
        // Room enough, once the filler goes, for the backlog kept in memory (50 results a second for the seconds the
        // disk was full) and the WAL it writes; at 512k a slow run filled the disk again right after resuming.
        Sh($"mount -t tmpfs -o size=4m tmpfs '{mount}'");
        try
        {
            await using var d = new DaemonProcess([$"--Store:Path={mount}/results.db", "--Source:Fps=50", "--Trigger:MaxRate=50"]);
            await d.WaitListeningAsync();
            await d.WaitUntilAsync(async () => await LastResultId(d) >= 5, "a few stored results");
            // Fill the disk.
            Sh($"dd if=/dev/zero of='{mount}/filler' bs=4k 2>/dev/null || true");
            await d.WaitUntilAsync(async () =>
            {
                var s = JsonDocument.Parse(await d.Client.GetStringAsync("api/status")).RootElement.GetProperty("store");
                return s.GetProperty("error").ValueKind == JsonValueKind.String;
            }, "the store to report the full disk");
            var status = JsonDocument.Parse(await d.Client.GetStringAsync("api/status")).RootElement;
            Assert.That(status.GetProperty("store").GetProperty("error").GetString(), Does.Contain("full"));
            Assert.That(status.GetProperty("frames_classified").GetInt64(), Is.GreaterThan(0), "classification goes on");
            await Task.Delay(1000);
            Assert.That(System.Text.RegularExpressions.Regex.Matches(d.Log, "the disk is full; results are kept in memory").Count, Is.EqualTo(1), d.Log);
            Assert.That((await d.HealthAsync()).Status, Is.EqualTo(503), "a store that cannot write is a problem /healthz reports");
            Assert.That((await d.HealthAsync()).Body, Does.Contain("store: the disk is full"));
            // Free the space: writing resumes and the queued results land.
            var pendingBefore = status.GetProperty("store").GetProperty("pending").GetInt32();
            File.Delete(Path.Combine(mount, "filler"));
            await d.WaitUntilAsync(async () =>
            {
                var s = JsonDocument.Parse(await d.Client.GetStringAsync("api/status")).RootElement.GetProperty("store");
                return s.GetProperty("error").ValueKind == JsonValueKind.Null && s.GetProperty("pending").GetInt32() < pendingBefore + 5;
            }, "writes to resume");
            Assert.That(d.Log, Does.Contain("writing resumed"));
            Assert.That(await d.StopAsync(), Is.Zero);
        }
        finally
        {
            Sh($"umount '{mount}'");
        }
    }
}
