namespace Edge.TestSupport;

public static class RepoPaths
{
    /// <summary>The repository root (the folder holding Edge.sln).</summary>
    public static string Root { get; } = FindRoot();

    public static string Models => Path.Combine(Root, "models");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Edge.sln"))) return dir.FullName;
        throw new InvalidOperationException("Edge.sln not found above " + AppContext.BaseDirectory);
    }
}
