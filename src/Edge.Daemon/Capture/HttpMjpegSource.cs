namespace Edge.Daemon.Capture;

/// <summary>
/// An IP camera's multipart MJPEG stream (<c>multipart/x-mixed-replace</c>). Parts are found by their
/// JPEG markers, so the boundary and part headers need no parsing and a camera that gets them
/// slightly wrong still works.
/// </summary>
public sealed class HttpMjpegSource(Uri url, HttpClient client, int maxFrameBytes = 8 * 1024 * 1024) : MjpegStreamSource(maxFrameBytes)
{
    private HttpResponseMessage? _response;
    private Stream? _stream;

    public override string Description => $"http: {url}";

    protected override async ValueTask<Stream> OpenStreamAsync(CancellationToken ct)
    {
        _response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (!_response.IsSuccessStatusCode)
            throw new IOException($"{url} answered {(int)_response.StatusCode} {_response.ReasonPhrase}");
        return _stream = await _response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
    }

    protected override void Close()
    {
        _stream?.Dispose();
        _response?.Dispose();
    }
}
