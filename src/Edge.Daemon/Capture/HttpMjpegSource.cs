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

    public override string Description => $"http: {Credentials.Mask(url.ToString())}";

    protected override async ValueTask<Stream> OpenStreamAsync(CancellationToken ct)
    {
        // A user and password in the URL become HTTP basic authentication (HttpClient ignores them otherwise).
        using var request = new HttpRequestMessage(HttpMethod.Get, url.UserInfo.Length > 0 ? new UriBuilder(url) { UserName = "", Password = "" }.Uri : url);
        if (url.UserInfo.Length > 0)
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(Uri.UnescapeDataString(url.UserInfo))));
        _response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (!_response.IsSuccessStatusCode)
            throw new IOException($"{Credentials.Mask(url.ToString())} answered {(int)_response.StatusCode} {_response.ReasonPhrase}");
        return _stream = await _response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
    }

    protected override void Close()
    {
        _stream?.Dispose();
        _response?.Dispose();
    }
}
