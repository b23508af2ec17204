
namespace Edge.Daemon.Capture;

/// <summary>Settings of a <see cref="FolderSource"/>.</summary>
public sealed record FolderSourceOptions
{
    /// <summary>Play the files again and again (a demo, a test set); otherwise watch for new and changed files.</summary>
    public bool Loop { get; init; } = true;
    /// <summary>Most frames per second.</summary>
    public double Fps { get; init; } = 5;
    /// <summary>Watched folder: classify the files that are there at start too (else only new or changed ones).</summary>
    public bool ProcessExisting { get; init; }
    /// <summary>Watched folder: a file is read once its size and time have not changed for this long.</summary>
    public TimeSpan Stable { get; init; } = TimeSpan.FromMilliseconds(300);
    /// <summary>Larger files are skipped.</summary>
    public long MaxFileBytes { get; init; } = 8 * 1024 * 1024;
    /// <summary>How often a watched folder is listed.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(200);
}
