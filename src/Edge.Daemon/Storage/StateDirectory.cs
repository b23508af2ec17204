namespace Edge.Daemon.Storage;

/// <summary>
/// Where <c>edged run</c> keeps what it records when the configuration names no path: systemd's
/// <c>StateDirectory=</c> (<c>$STATE_DIRECTORY</c>, /var/lib/edge for the packaged service), else the user's
/// XDG state directory (<c>$XDG_STATE_HOME/edge</c>, default <c>~/.local/state/edge</c>), so that a daemon
/// started from any folder finds its results again and two folders do not get two stores by accident.
/// </summary>
public sealed record StateDirectory(string Path, string Origin)
{
    public const string ResultsFile = "edged-results.db";

    public string Results => System.IO.Path.Combine(Path, ResultsFile);

    public static StateDirectory Resolve(Func<string, string?> environment)
    {
        // systemd gives absolute paths, several separated by ':' when the unit lists several; ours is the first.
        var systemd = environment("STATE_DIRECTORY")?.Split(':', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        if (Absolute(systemd)) return new StateDirectory(systemd!, "systemd StateDirectory");
        var xdg = environment("XDG_STATE_HOME");
        if (Absolute(xdg)) return new StateDirectory(System.IO.Path.Combine(xdg!, "edge"), "$XDG_STATE_HOME");
        var home = environment("HOME");
        if (Absolute(home)) return new StateDirectory(System.IO.Path.Combine(home!, ".local", "state", "edge"), "per-user state directory");
        return new StateDirectory(Directory.GetCurrentDirectory(), "working directory: no HOME, XDG_STATE_HOME or STATE_DIRECTORY");
    }

    // The XDG spec: a relative value is invalid and must be ignored.
    private static bool Absolute(string? path) => !string.IsNullOrEmpty(path) && System.IO.Path.IsPathFullyQualified(path);
}
