using System.Diagnostics;

namespace Edge.Daemon.Capture;

/// <summary>
/// MJPEG from a command's standard output: <c>rpicam-vid -t 0 --codec mjpeg -o -</c>,
/// <c>ffmpeg -f v4l2 -i /dev/video0 -f mjpeg -</c>, <c>gst-launch-1.0 ... ! jpegenc ! fdsink</c>.
/// The command runs under <c>/bin/sh -c</c>; its last stderr lines explain a failure.
/// </summary>
public sealed class PipeMjpegSource(string command, int maxFrameBytes = 8 * 1024 * 1024) : MjpegStreamSource(maxFrameBytes)
{
    private Process? _process;
    private readonly Queue<string> _stderr = new();

    public override string Description => $"pipe: {command}";

    protected override ValueTask<Stream> OpenStreamAsync(CancellationToken ct)
    {
        var psi = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec " + command);
        _process = Process.Start(psi) ?? throw new IOException($"could not start '{command}'");
        _process.StandardInput.Close();
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_stderr)
            {
                _stderr.Enqueue(e.Data);
                while (_stderr.Count > 5) _stderr.Dequeue();
            }
        };
        _process.BeginErrorReadLine();
        return ValueTask.FromResult(_process.StandardOutput.BaseStream);
    }

    protected override Exception? EndReason()
    {
        if (_process is not { } p || !p.WaitForExit(1000)) return null;
        p.WaitForExit(); // also waits for the stderr reader, so the message is complete (and the same every time)
        string tail;
        lock (_stderr) tail = string.Join(" | ", _stderr);
        return new IOException($"'{command}' exited with code {p.ExitCode}{(tail.Length > 0 ? ": " + tail : "")}");
    }

    protected override void Close()
    {
        if (_process is not { } p) return;
        try { if (!p.HasExited) p.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
    }
}
