using System.Buffers;

namespace Edge.Daemon.Capture;

/// <summary>
/// One encoded frame (JPEG) in a pooled buffer. The consumer that takes it disposes it, which
/// returns the buffer, so a steady stream of frames reuses the same few arrays.
/// </summary>
public sealed class Frame : IDisposable
{
    private byte[]? _buffer;

    private Frame(byte[] buffer, int length, long sequence, DateTimeOffset time)
    {
        _buffer = buffer;
        Length = length;
        Sequence = sequence;
        Time = time;
    }

    public int Length { get; }
    public long Sequence { get; }
    public DateTimeOffset Time { get; }

    public ReadOnlySpan<byte> Data => _buffer is null ? throw new ObjectDisposedException(nameof(Frame)) : _buffer.AsSpan(0, Length);

    public static Frame Copy(ReadOnlySpan<byte> data, long sequence, DateTimeOffset time)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(data.Length);
        data.CopyTo(buffer);
        return new Frame(buffer, data.Length, sequence, time);
    }

    public byte[] ToArray() => Data.ToArray();

    public void Dispose()
    {
        var b = Interlocked.Exchange(ref _buffer, null);
        if (b is not null) ArrayPool<byte>.Shared.Return(b);
    }
}
