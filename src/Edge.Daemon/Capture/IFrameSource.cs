namespace Edge.Daemon.Capture;

/// <summary>A camera or stand-in that yields encoded frames. Opened, read until it ends or fails, disposed by its owner.</summary>
public interface IFrameSource : IAsyncDisposable
{
    /// <summary>What this is, for logs and the status API ("pipe: rpicam-vid ...").</summary>
    string Description { get; }

    ValueTask OpenAsync(CancellationToken ct);

    /// <summary>The next frame, or null when the source has ended (process exited, folder done).</summary>
    ValueTask<Frame?> ReadAsync(CancellationToken ct);

    /// <summary>Bytes skipped as not part of any frame so far.</summary>
    long GarbageBytes => 0;

    /// <summary>A camera that should deliver frames steadily (silence means trouble), unlike a watched folder.</summary>
    bool IsLive => true;
}
