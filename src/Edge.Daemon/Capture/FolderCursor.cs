
namespace Edge.Daemon.Capture;

/// <summary>
/// What a watched folder has delivered, kept across reopenings of the source (the supervisor reopens a
/// source after a failure): a file is delivered once, and again only when its size or modification
/// time changes (a camera that overwrites latest.jpg). Bounded: at most <see cref="MaxTracked"/> files.
/// </summary>
public sealed class FolderCursor
{
    public const int MaxTracked = 100_000;

    internal sealed class Entry
    {
        public long Size, Mtime, ChangedAt;
        public bool Delivered;
    }

    internal Dictionary<string, Entry> Files { get; } = new(StringComparer.Ordinal);
    internal bool Primed { get; set; }
    /// <summary>Modification time (ticks) before which files count as already there at the first listing.</summary>
    internal long PrimedAtMtime { get; set; }
    /// <summary>The folder has held more files than are tracked: listings are partial from then on.</summary>
    internal bool Overflowed { get; set; }
}
