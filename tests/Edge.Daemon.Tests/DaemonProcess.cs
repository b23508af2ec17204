using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Edge.Daemon.Tests;

/// <summary>A real `edged run` process on a free loopback port, stopped with SIGTERM.</summary>
internal sealed class DaemonProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    // Each daemon its own state directory (where results go by default), so tests never share a store.
    private readonly TempDir _state = new();

    public DaemonProcess(IEnumerable<string> args, IDictionary<string, string>? env = null, string? workDir = null)
    {
        Port = FreePort();
        if (args.Any(a => a.Contains("ffmpeg", StringComparison.Ordinal))) Needs.Check(Needs.Ffmpeg);
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = workDir ?? Path.GetTempPath(),
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "edged.dll"));
        psi.ArgumentList.Add("run");
        psi.ArgumentList.Add($"--Http:Url=http://127.0.0.1:{Port}");
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["XDG_STATE_HOME"] = _state.Path;
        psi.Environment.Remove("STATE_DIRECTORY");
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        _process = Process.Start(psi)!;
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}/"), Timeout = TimeSpan.FromSeconds(10) };
    }

    public int Port { get; }
    public HttpClient Client { get; }
    public int Pid => _process.Id;
    public string Log { get { lock (_stderr) return _stderr.ToString(); } }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until the API answers /healthz at all (healthy or not).</summary>
    public async Task WaitListeningAsync(int seconds = 30)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < until)
        {
            if (_process.HasExited) Assert.Fail($"edged exited with {_process.ExitCode}:\n{Log}");
            try
            {
                await Client.GetAsync("healthz");
                return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(100);
        }
        Assert.Fail($"edged did not answer /healthz in {seconds} s:\n{Log}");
    }

    /// <summary>/healthz: its status code and the problems it lists.</summary>
    public async Task<(int Status, string Body)> HealthAsync()
    {
        var r = await Client.GetAsync("healthz");
        return ((int)r.StatusCode, await r.Content.ReadAsStringAsync());
    }

    /// <summary>Polls until <paramref name="condition"/> holds, or fails with the log.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> condition, string what, int seconds = 30)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < until)
        {
            if (await condition()) return;
            await Task.Delay(150);
        }
        Assert.Fail($"timed out waiting for {what}:\n{Log}");
    }

    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            Process.Start("kill", ["-TERM", _process.Id.ToString()])!.WaitForExit();
            var exited = _process.WaitForExit(TimeSpan.FromSeconds(20));
            if (!exited) { _process.Kill(true); Assert.Fail($"edged did not stop on SIGTERM:\n{Log}"); }
        }
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        try { if (!_process.HasExited) _process.Kill(true); } catch (InvalidOperationException) { }
        await _process.WaitForExitAsync();
        Client.Dispose();
        _process.Dispose();
        _state.Dispose();
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
