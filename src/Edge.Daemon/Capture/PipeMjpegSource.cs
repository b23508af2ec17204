using System.Diagnostics;

namespace Edge.Daemon.Capture;

/// <summary>
/// MJPEG from a command's standard output: <c>rpicam-vid -t 0 --codec mjpeg -o -</c>,
/// <c>ffmpeg -f v4l2 -i /dev/video0 -f mjpeg -</c>, <c>gst-launch-1.0 ... ! jpegenc ! fdsink</c>.
/// The command runs under <c>/bin/sh -c</c>; its last stderr lines explain a failure.
/// </summary>
public sealed class PipeMjpegSource(string command, int maxFrameBytes = 8 * 1024 * 1024) : IFrameSource
{
    private Process? _process;
    private MjpegFrameReader? _reader;
    private readonly Queue<string> _stderr = new();
    private long _sequence;

    public string Description => $"pipe: {command}";
    public long GarbageBytes => _reader?.SkippedBytes ?? 0;

    public ValueTask OpenAsync(CancellationToken ct)
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
        _reader = new MjpegFrameReader(_process.StandardOutput.BaseStream, maxFrameBytes);
        return ValueTask.CompletedTask;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Frame?> ReadAsync(CancellationToken ct)
    {
        var reader = _reader ?? throw new InvalidOperationException("not open");
        var data = await reader.ReadFrameAsync(ct).ConfigureAwait(false);
        if (!data.IsEmpty) return Frame.Copy(data.Span, ++_sequence, DateTimeOffset.UtcNow);
        // End of stream: the command exited (or closed its output).
        if (_process is { } p && p.WaitForExit(1000))
        {
            p.WaitForExit(); // also waits for the stderr reader, so the message is complete (and the same every time)
            string tail;
            lock (_stderr) tail = string.Join(" | ", _stderr);
            throw new IOException($"'{command}' exited with code {p.ExitCode}{(tail.Length > 0 ? ": " + tail : "")}");
        }
        return null;
    }

    public ValueTask DisposeAsync()
    {
        if (_process is { } p)
        {
            try { if (!p.HasExited) p.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { }
            p.Dispose();
        }
        _process = null;
        return ValueTask.CompletedTask;
    }
}
