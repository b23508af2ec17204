namespace Edge.Daemon.Clips;

/// <summary>
/// Clips around state changes (<c>Clips</c> in edged.json): the camera's last frames are kept in a ring of
/// <see cref="BufferMb"/>; on a state change the frames from <see cref="PreSeconds"/> before to <see cref="PostSeconds"/>
/// after it are saved as one MJPEG file (the JPEGs one after another, as cameras send them) with a JSON index.
/// </summary>
public sealed record ClipOptions
{
    /// <summary>Where clips go; empty = no clips (and no ring).</summary>
    public string? Folder { get; set; }
    public double PreSeconds { get; set; } = 5;
    public double PostSeconds { get; set; } = 5;
    /// <summary>Memory for the ring of recent frames, and the most one clip may hold.</summary>
    public int BufferMb { get; set; } = 32;
    /// <summary>Clips kept; the oldest go first (also when free space falls below <see cref="MinFreeMb"/>).</summary>
    public int MaxClips { get; set; } = 100;
    public int MinFreeMb { get; set; } = 200;
}
