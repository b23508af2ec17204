namespace Edge.Daemon.Capture;

/// <summary>
/// Splits a byte stream of concatenated JPEGs (what <c>rpicam-vid --codec mjpeg -o -</c>,
/// <c>ffmpeg -f mjpeg -</c> or a multipart HTTP camera sends) into frames: each frame runs from an
/// SOI marker (FF D8 FF) to the EOI marker (FF D9) that ends it. Bytes between frames (multipart
/// headers, garbage) are skipped and counted; a frame larger than the limit is dropped.
/// The buffer is reused and reads are synchronous (on the source's capture thread): reading allocates nothing per frame.
/// </summary>
public sealed class MjpegFrameReader(Stream stream, int maxFrameBytes = 8 * 1024 * 1024)
{
    private byte[] _buffer = new byte[256 * 1024];
    private int _start, _end; // unread bytes are _buffer[_start.._end)

    /// <summary>Bytes that were not part of any frame (headers, noise).</summary>
    public long SkippedBytes { get; private set; }
    /// <summary>Frames dropped for exceeding the size limit.</summary>
    public long OversizedFrames { get; private set; }

    /// <summary>The next complete frame, or an empty memory at end of stream; blocks on the stream (a capture thread). The memory is valid until the next call.</summary>
    public ReadOnlyMemory<byte> ReadFrame()
    {
        while (true)
        {
            var soi = FindSoi(_start, _end);
            if (soi < 0)
            {
                // Keep the last two bytes: a marker may straddle the read boundary.
                var keep = Math.Min(2, _end - _start);
                SkippedBytes += _end - _start - keep;
                _start = _end - keep;
                if (!Fill()) { SkippedBytes += _end - _start; _start = _end; return ReadOnlyMemory<byte>.Empty; }
                continue;
            }
            SkippedBytes += soi - _start;
            _start = soi;
            var eoi = FindEoi(_start + 3, _end);
            while (eoi < 0)
            {
                if (_end - _start > maxFrameBytes)
                {
                    // Too big to be a frame from a camera we support: drop it and resynchronise.
                    OversizedFrames++;
                    SkippedBytes += _end - _start;
                    _start = _end;
                    break;
                }
                var scanned = _end;
                if (!Fill()) { SkippedBytes += _end - _start; _start = _end; return ReadOnlyMemory<byte>.Empty; }
                eoi = FindEoi(Math.Max(_start + 3, scanned - 1), _end);
            }
            if (eoi < 0) continue;
            if (eoi + 2 - _start > maxFrameBytes)
            {
                OversizedFrames++;
                SkippedBytes += eoi + 2 - _start;
                _start = eoi + 2;
                continue;
            }
            var frame = new ReadOnlyMemory<byte>(_buffer, _start, eoi + 2 - _start);
            _start = eoi + 2;
            return frame;
        }
    }

    private int FindSoi(int from, int to)
    {
        var span = _buffer.AsSpan(from, to - from);
        var offset = 0;
        while (true)
        {
            var i = span[offset..].IndexOf((byte)0xFF);
            if (i < 0 || offset + i + 2 >= span.Length) return -1;
            offset += i;
            if (span[offset + 1] == 0xD8 && span[offset + 2] == 0xFF) return from + offset;
            offset++;
        }
    }

    private int FindEoi(int from, int to)
    {
        if (from >= to) return -1;
        var i = _buffer.AsSpan(from, to - from).IndexOf([(byte)0xFF, (byte)0xD9]);
        return i < 0 ? -1 : from + i;
    }

    private bool Fill()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= maxFrameBytes + 64 * 1024) return true; // caller will drop the oversized frame
            Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, maxFrameBytes + 64 * 1024));
        }
        var n = stream.Read(_buffer.AsSpan(_end));
        if (n == 0) return false;
        _end += n;
        return true;
    }
}
