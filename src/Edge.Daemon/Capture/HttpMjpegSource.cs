namespace Edge.Daemon.Capture;

/// <summary>
/// An IP camera's multipart MJPEG stream (<c>multipart/x-mixed-replace</c>). Parts are found by their
/// JPEG markers, so the boundary and part headers need no parsing and a camera that gets them
/// slightly wrong still works.
/// </summary>
public sealed class HttpMjpegSource(Uri url, HttpClient client, int maxFrameBytes = 8 * 1024 * 1024) : IFrameSource
{
    private HttpResponseMessage? _response;
    private MjpegFrameReader? _reader;
    private long _sequence;

    public string Description => $"http: {url}";
    public long GarbageBytes => _reader?.SkippedBytes ?? 0;

    public async ValueTask OpenAsync(CancellationToken ct)
    {
        _response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (!_response.IsSuccessStatusCode)
            throw new IOException($"{url} answered {(int)_response.StatusCode} {_response.ReasonPhrase}");
        var stream = await _response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        _reader = new MjpegFrameReader(stream, maxFrameBytes);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Frame?> ReadAsync(CancellationToken ct)
    {
        var data = await (_reader ?? throw new InvalidOperationException("not open")).ReadFrameAsync(ct).ConfigureAwait(false);
        return data.IsEmpty ? null : Frame.Copy(data.Span, ++_sequence, DateTimeOffset.UtcNow);
    }

    public ValueTask DisposeAsync()
    {
        _response?.Dispose();
        _response = null;
        return ValueTask.CompletedTask;
    }
}
