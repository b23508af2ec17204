using System.Threading.Channels;

namespace Edge.Daemon.Capture;

/// <summary>
/// A source of concatenated JPEGs on a byte stream (a command's stdout, an HTTP multipart body).
/// A dedicated thread reads the stream with blocking reads (PipeStream's and HttpClient's async
/// reads allocate per call) and splits frames with <see cref="MjpegFrameReader"/>; frames reach
/// <see cref="ReadAsync"/> through a channel of two. Closing the stream ends the thread.
/// </summary>
public abstract class MjpegStreamSource(int maxFrameBytes) : IFrameSource
{
    private MjpegFrameReader? _reader;
    private Thread? _thread;
    private Channel<Frame>? _frames;
    private Exception? _failure;
    private long _sequence;

    public abstract string Description { get; }
    public long GarbageBytes => _reader?.SkippedBytes ?? 0;

    /// <summary>Starts the producer (process, request) and returns its byte stream.</summary>
    protected abstract ValueTask<Stream> OpenStreamAsync(CancellationToken ct);

    /// <summary>Why the stream ended, or null for a clean end.</summary>
    protected virtual Exception? EndReason() => null;

    /// <summary>Stops the producer so that a blocked read returns.</summary>
    protected abstract void Close();

    public async ValueTask OpenAsync(CancellationToken ct)
    {
        var stream = await OpenStreamAsync(ct).ConfigureAwait(false);
        _reader = new MjpegFrameReader(stream, maxFrameBytes);
        _frames = Channel.CreateBounded<Frame>(new BoundedChannelOptions(2) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        _thread = new Thread(ReadLoop) { IsBackground = true, Name = "edged capture" };
        _thread.Start();
    }

    private void ReadLoop()
    {
        var writer = _frames!.Writer;
        try
        {
            while (true)
            {
                var data = _reader!.ReadFrame();
                if (data.IsEmpty) break;
                var frame = Frame.Copy(data.Span, ++_sequence, DateTimeOffset.UtcNow);
                while (!writer.TryWrite(frame))
                {
                    // The consumer is behind (it drops frames itself): wait for room.
                    if (!writer.WaitToWriteAsync().AsTask().GetAwaiter().GetResult()) { frame.Dispose(); return; }
                }
            }
            _failure = EndReason();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or HttpRequestException)
        {
            _failure = EndReason() ?? new IOException($"{Description}: {e.Message}", e);
        }
        finally
        {
            writer.TryComplete();
        }
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Frame?> ReadAsync(CancellationToken ct)
    {
        var frames = _frames ?? throw new InvalidOperationException("not open");
        if (frames.Reader.TryRead(out var ready)) return ready;
        // A timeout or stop ends this session (the supervisor reopens the source), so it may complete
        // the channel; waiting without a token reuses the channel's single waiter instead of allocating one.
        using (ct.UnsafeRegister(static s => ((Channel<Frame>)s!).Writer.TryComplete(), frames))
        {
            while (await frames.Reader.WaitToReadAsync().ConfigureAwait(false))
                if (frames.Reader.TryRead(out var frame)) return frame;
        }
        ct.ThrowIfCancellationRequested();
        if (_failure is { } failure) throw failure;
        return null;
    }

    public ValueTask DisposeAsync()
    {
        Close();
        _frames?.Writer.TryComplete();
        _thread?.Join(TimeSpan.FromSeconds(2));
        while (_frames?.Reader.TryRead(out var left) == true) left.Dispose();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
