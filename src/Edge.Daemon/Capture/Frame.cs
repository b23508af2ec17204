using System.Buffers;

namespace Edge.Daemon.Capture;

/// <summary>
/// One encoded frame (JPEG) in a pooled buffer. The consumer that takes it disposes it, which
/// returns the buffer and the frame object itself, so a steady stream of frames reuses the same few
/// arrays and objects and capture allocates nothing per frame. A frame must not be touched after
/// Dispose: the object may already carry another frame.
/// </summary>
public sealed class Frame : IDisposable
{
    // A handful in flight at most (capture, the channel of two, the one being classified).
    private static readonly System.Collections.Concurrent.ConcurrentQueue<Frame> Pool = new();
    private const int MaxPooled = 16;
    private static int _pooled;

    private byte[]? _buffer;

    private Frame() { }

    public int Length { get; private set; }
    public long Sequence { get; private set; }
    public DateTimeOffset Time { get; private set; }

    public ReadOnlySpan<byte> Data => _buffer is null ? throw new ObjectDisposedException(nameof(Frame)) : _buffer.AsSpan(0, Length);

    public static Frame Copy(ReadOnlySpan<byte> data, long sequence, DateTimeOffset time)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(data.Length);
        data.CopyTo(buffer);
        if (Pool.TryDequeue(out var frame)) Interlocked.Decrement(ref _pooled);
        else frame = new Frame();
        frame.Length = data.Length;
        frame.Sequence = sequence;
        frame.Time = time;
        Volatile.Write(ref frame._buffer, buffer);
        return frame;
    }

    public byte[] ToArray() => Data.ToArray();

    public void Dispose()
    {
        var b = Interlocked.Exchange(ref _buffer, null);
        if (b is null) return; // already disposed: never pool the same object twice
        ArrayPool<byte>.Shared.Return(b);
        if (Interlocked.Increment(ref _pooled) <= MaxPooled) Pool.Enqueue(this);
        else Interlocked.Decrement(ref _pooled);
    }
}
