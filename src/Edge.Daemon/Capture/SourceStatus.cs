
namespace Edge.Daemon.Capture;

/// <summary>What the status API shows about the camera.</summary>
public sealed record SourceStatus(string Description, SourceState State, string? LastError, long Frames, long Reconnects, long GarbageBytes,
    DateTimeOffset? LastFrameAt, DateTimeOffset StateSince);
