using System.Diagnostics;
using System.Text;

namespace Edge.Daemon.Capture;

/// <summary>
/// MJPEG from a command's standard output: <c>rpicam-vid -t 0 --codec mjpeg -o -</c>,
/// <c>ffmpeg -f v4l2 -i /dev/video0 -f mjpeg -</c>, <c>gst-launch-1.0 ... ! jpegenc ! fdsink</c>.
/// The command runs under <c>/bin/sh -c</c>; the tail of its stderr (a few bounded lines) explains a failure.
/// </summary>
public sealed class PipeMjpegSource(string command, int maxFrameBytes = 8 * 1024 * 1024) : MjpegStreamSource(maxFrameBytes)
{
    private Process? _process;
    private Task? _stderrReader;
    private readonly StderrTail _stderr = new();

    public override string Description => $"pipe: {Credentials.Mask(command)}";

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
        _process = Process.Start(psi) ?? throw new IOException($"could not start '{Credentials.Mask(command)}'");
        _process.StandardInput.Close();
        // Read stderr in chunks, not lines: a command that writes endlessly without a newline must not grow memory.
        var stderr = _process.StandardError.BaseStream;
        _stderrReader = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            try
            {
                int n;
                while ((n = await stderr.ReadAsync(buffer).ConfigureAwait(false)) > 0) _stderr.Append(buffer.AsSpan(0, n));
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException) { }
        });
        return ValueTask.FromResult(_process.StandardOutput.BaseStream);
    }

    protected override Exception? EndReason()
    {
        if (_process is not { } p || !p.WaitForExit(1000)) return null;
        _stderrReader?.Wait(1000); // the message is complete (and the same every time)
        var tail = _stderr.Text();
        return new IOException($"'{Credentials.Mask(command)}' exited with code {p.ExitCode}{(tail.Length > 0 ? ": " + Credentials.Mask(tail) : "")}");
    }

    protected override void Close()
    {
        if (_process is not { } p) return;
        try { if (!p.HasExited) p.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
    }
}

/// <summary>
/// The last few lines a command wrote to stderr, each cut to a bounded length, control characters
/// (colour codes) removed: what is kept never exceeds <c>lines × lineLength</c> characters, whatever the command writes.
/// </summary>
public sealed class StderrTail(int lines = 5, int lineLength = 300)
{
    private readonly Queue<string> _lines = new();
    private readonly StringBuilder _current = new();
    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
    private readonly char[] _chars = new char[4096 + 4];
    private readonly Lock _gate = new();
    private bool _cut;

    public void Append(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            while (!bytes.IsEmpty)
            {
                var take = Math.Min(bytes.Length, 4096);
                var n = _decoder.GetChars(bytes[..take], _chars, flush: false);
                bytes = bytes[take..];
                foreach (var c in _chars.AsSpan(0, n))
                {
                    if (c is '\n' or '\r') { EndLine(); continue; }
                    if (char.IsControl(c)) continue;
                    if (_current.Length < lineLength) _current.Append(c);
                    else _cut = true;
                }
            }
        }
    }

    private void EndLine()
    {
        if (_current.Length == 0 && !_cut) return;
        _lines.Enqueue(_current.ToString().Trim() + (_cut ? "..." : ""));
        while (_lines.Count > lines) _lines.Dequeue();
        _current.Clear();
        _cut = false;
    }

    /// <summary>The kept lines (and any unfinished one) joined with " | ".</summary>
    public string Text()
    {
        lock (_gate)
        {
            var all = _lines.ToList();
            if (_current.Length > 0) all.Add(_current.ToString().Trim() + (_cut ? "..." : ""));
            while (all.Count > lines) all.RemoveAt(0);
            return string.Join(" | ", all.Where(l => l.Length > 0));
        }
    }
}
