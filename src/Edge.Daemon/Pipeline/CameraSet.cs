using Edge.Daemon.Models;
using Edge.Daemon.Storage;

namespace Edge.Daemon.Pipeline;

/// <summary>
/// The daemon's cameras, each a <see cref="CameraPipeline"/>, as the API, the watchdog and the page see them: one health,
/// one place to find a camera by name. The first camera is the one whose fields the status keeps at its top level (what
/// single-camera clients read). The cameras (and the shared model and store) belong to the caller.
/// </summary>
public sealed class CameraSet
{
    public CameraSet(IReadOnlyList<CameraPipeline> cameras, ModelSwitch models, ResultWriter? store)
    {
        if (cameras.Count == 0) throw new ArgumentException("at least one camera", nameof(cameras));
        Cameras = cameras;
        Models = models;
        Store = store;
    }

    /// <summary>One camera on its own (tests, benchmarks): its model and store are the set's.</summary>
    public CameraSet(CameraPipeline camera) : this([camera], camera.Models, camera.Store)
    {
    }

    public IReadOnlyList<CameraPipeline> Cameras { get; }
    /// <summary>The first camera (the top level of the status).</summary>
    public CameraPipeline Primary => Cameras[0];
    /// <summary>The daemon's model (Model:Path, replaced by updates); cameras with a model of their own have theirs.</summary>
    public ModelSwitch Models { get; }
    public ResultWriter? Store { get; }

    public CameraPipeline? Find(string name) => Cameras.FirstOrDefault(c => c.CameraName == name);

    /// <summary>What keeps any camera from doing its job, one line each, named by camera when there are several.</summary>
    public IReadOnlyList<string> Health()
    {
        if (Cameras.Count == 1) return Cameras[0].Health();
        var problems = new List<string>();
        foreach (var c in Cameras)
            foreach (var p in c.Health(includeStore: false))
                problems.Add($"camera {c.CameraName}: {p}");
        // The store is shared: said once.
        if (Store?.Error is { } error) problems.Add($"store: {error} ({Store.Pending} results waiting, {Store.Lost} lost)");
        return problems;
    }

    /// <summary>
    /// False when any camera's classification cannot go on (the systemd watchdog is then no longer fed and edged is
    /// restarted). A camera whose source is down is not dead: it reconnects while the others go on.
    /// </summary>
    public bool Alive => Cameras.All(c => c.Alive);

    /// <summary>Sources of the cameras, for systemd's status line.</summary>
    public string Description => string.Join(", ", Cameras.Select(c => Cameras.Count == 1 ? c.Source.Description : $"{c.CameraName}: {c.Source.Description}"));
}
