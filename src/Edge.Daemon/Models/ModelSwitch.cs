namespace Edge.Daemon.Models;

/// <summary>What happened to the running model.</summary>
public enum ModelChangeKind
{
    /// <summary>A checked model replaced the running one between two frames; it is on probation.</summary>
    SwappedIn,
    /// <summary>The model on probation classified its first frames well; the one before it is let go.</summary>
    Proven,
    /// <summary>The model on probation failed too often; the last good one runs again.</summary>
    RolledBack,
    /// <summary>An offered model was replaced by a newer offer (or a newer swap) before it proved itself.</summary>
    Superseded,
}

public sealed record ModelChange(ModelChangeKind Kind, ModelIdentity Model, ModelIdentity? Other, string? Reason);

/// <summary>Where the running model stands: probation counts frames classified and failed since it was swapped in.</summary>
public sealed record ModelState(ModelIdentity Current, ModelIdentity? Previous, ModelIdentity? Pending, ModelIdentity? Fallback, bool OnProbation,
    int ProbationClassified, int ProbationFailures, int ProbationFrames);

/// <summary>
/// The running model, and the swap to a new one. A checked model is <see cref="Offer"/>ed from any thread;
/// a pipeline takes it between two frames (<see cref="BeginFrame"/>, under <see cref="Gate"/>), so no frame is ever
/// classified by a model that is half loaded, and the pipeline never waits for a load. The model it replaces
/// stays loaded while the new one is on probation: if the new one fails <c>rollbackFailures</c> of its first
/// <c>probationFrames</c> classifications, the old one is back before the next frame. Uploads take a
/// reference with <see cref="Lease"/> for each image, so a replaced model is disposed only when no upload
/// still uses it.
/// </summary>
public sealed class ModelSwitch : IDisposable
{
    private readonly int _probationFrames, _rollbackFailures;
    private readonly Action<ModelChange>? _changed;
    private LoadedModel _current;
    private LoadedModel? _fallback;   // the last proven model, while _current is on probation
    private LoadedModel? _offered;
    private ModelIdentity? _previous;
    private int _probationLeft, _probationFailures, _probationClassified;
    private int _disposed;

    /// <param name="initial">The first model; the switch takes over its reference.</param>
    /// <param name="changed">Told of every change, on the thread that made it (the pipeline's for swaps and rollbacks): keep it short.</param>
    /// <param name="previous">The model the first one had replaced, when remembered from an earlier run (shown, not loaded).</param>
    public ModelSwitch(LoadedModel initial, int probationFrames = 100, int rollbackFailures = 3, Action<ModelChange>? changed = null,
        ModelIdentity? previous = null)
    {
        _previous = previous;
        ArgumentOutOfRangeException.ThrowIfNegative(probationFrames);
        ArgumentOutOfRangeException.ThrowIfLessThan(rollbackFailures, 1);
        _current = initial;
        _probationFrames = probationFrames;
        _rollbackFailures = rollbackFailures;
        _changed = changed;
    }

    /// <summary>The model classifying camera frames now.</summary>
    public LoadedModel Current => Volatile.Read(ref _current);

    /// <summary>
    /// Taken by a camera's pipeline from <see cref="BeginFrame"/> to <see cref="Classified"/>: cameras sharing this model
    /// classify in turn (one session, one set of buffers, one probation count).
    /// </summary>
    public Lock Gate { get; } = new();

    public int ProbationFrames => _probationFrames;
    public int RollbackFailures => _rollbackFailures;

    public ModelState State
    {
        get
        {
            // Read without a lock: a status that is one frame stale is fine, a torn one is not possible (each field is one word).
            var left = Volatile.Read(ref _probationLeft);
            return new ModelState(Current.Identity, Volatile.Read(ref _previous), Volatile.Read(ref _offered)?.Identity, Volatile.Read(ref _fallback)?.Identity, left > 0,
                Volatile.Read(ref _probationClassified), Volatile.Read(ref _probationFailures), _probationFrames);
        }
    }

    /// <summary>
    /// Hands over a checked model (and its reference) to be swapped in before the next frame. An earlier offer
    /// not yet taken is dropped.
    /// </summary>
    public void Offer(LoadedModel model)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            model.Release();
            throw new ObjectDisposedException(nameof(ModelSwitch), "edged is stopping");
        }
        if (Interlocked.Exchange(ref _offered, model) is { } dropped)
        {
            _changed?.Invoke(new ModelChange(ModelChangeKind.Superseded, dropped.Identity, model.Identity, "a newer model was offered before it ran"));
            dropped.Release(disposeLater: true);
        }
        // Disposed while offering: nothing will take it.
        if (Volatile.Read(ref _disposed) != 0 && Interlocked.Exchange(ref _offered, null) is { } late) late.Release();
    }

    /// <summary>
    /// Called by the pipeline before each frame: swaps in an offered model. True when the model changed (the caller
    /// re-reads its class count). Allocation-free when nothing is offered.
    /// </summary>
    public bool BeginFrame()
    {
        if (Volatile.Read(ref _offered) is null) return false;
        var next = Interlocked.Exchange(ref _offered, null);
        if (next is null) return false;
        var old = _current;
        var unproven = Volatile.Read(ref _probationLeft) > 0 && _fallback is not null;
        // The new model is published first (readers never see neither), then the old one is let go.
        Volatile.Write(ref _previous, old.Identity);
        Volatile.Write(ref _probationClassified, 0);
        Volatile.Write(ref _probationFailures, 0);
        Volatile.Write(ref _probationLeft, _probationFrames);
        Volatile.Write(ref _current, next);
        if (unproven)
        {
            // The one replaced never proved itself: the last proven model stays the one to fall back to.
            _changed?.Invoke(new ModelChange(ModelChangeKind.Superseded, old.Identity, next.Identity, "replaced while on probation"));
            old.Release(disposeLater: true);
        }
        else
        {
            // Only a model with no probation left is replaced here, and then there is no fallback.
            _fallback?.Release(disposeLater: true);
            _fallback = old;
        }
        _changed?.Invoke(new ModelChange(ModelChangeKind.SwappedIn, next.Identity, old.Identity, null));
        if (_probationFrames == 0) Prove();
        return true;
    }

    /// <summary>
    /// Called by the pipeline after each classification: counts the probation and rolls back when the new model
    /// fails too often. True when it rolled back (the model changed).
    /// </summary>
    public bool Classified(bool succeeded, string? failure = null)
    {
        if (Volatile.Read(ref _probationLeft) == 0) return false;
        Volatile.Write(ref _probationClassified, _probationClassified + 1);
        if (!succeeded)
        {
            Volatile.Write(ref _probationFailures, _probationFailures + 1);
            if (_probationFailures >= _rollbackFailures && _fallback is not null)
            {
                RollBack($"{_probationFailures} of its first {_probationClassified} classifications failed{(failure is null ? "" : ": " + failure)}");
                return true;
            }
        }
        if (Interlocked.Decrement(ref _probationLeft) == 0) Prove();
        return false;
    }

    private void Prove()
    {
        Volatile.Write(ref _probationLeft, 0);
        var released = _fallback;
        _fallback = null;
        _changed?.Invoke(new ModelChange(ModelChangeKind.Proven, _current.Identity, released?.Identity, null));
        released?.Release(disposeLater: true);
    }

    private void RollBack(string reason)
    {
        var failed = _current;
        Volatile.Write(ref _current, _fallback!);
        _fallback = null;
        Volatile.Write(ref _probationLeft, 0);
        Volatile.Write(ref _previous, failed.Identity);
        _changed?.Invoke(new ModelChange(ModelChangeKind.RolledBack, failed.Identity, _current.Identity, reason));
        failed.Release(disposeLater: true);
    }

    /// <summary>A reference to the current model for one piece of work (an upload); release it when done.</summary>
    public LoadedModel Lease()
    {
        while (true)
        {
            var model = Volatile.Read(ref _current);
            if (model.TryAcquire()) return model;
            // Replaced and released between the read and the acquire: the next read sees its successor.
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Interlocked.Exchange(ref _offered, null)?.Release();
        _fallback?.Release();
        _fallback = null;
        _current.Release();
    }
}
