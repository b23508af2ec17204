using Edge.Core.Inference;

namespace Edge.Daemon.Models;

/// <summary>
/// One model ready to run: the camera's classifier, the uploads' own one (another session, one thread),
/// and its identity. Reference-counted, because a model being replaced may still be classifying an
/// upload: whoever holds it (the <see cref="ModelSwitch"/>, an upload in progress) releases it, and the
/// last release disposes its sessions. The creator holds the first reference.
/// </summary>
public sealed class LoadedModel
{
    private readonly bool _owns;
    private int _references = 1;

    public LoadedModel(Classifier camera, Classifier? uploads, ModelIdentity identity, bool ownsClassifiers = true)
    {
        Camera = camera;
        Uploads = uploads;
        Identity = identity;
        _owns = ownsClassifiers;
    }

    public Classifier Camera { get; }
    public Classifier? Uploads { get; }
    public ModelIdentity Identity { get; }
    public bool IsDisposed => Volatile.Read(ref _references) == 0;

    /// <summary>Takes a reference unless the model is already gone.</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            var n = Volatile.Read(ref _references);
            if (n <= 0) return false;
            if (Interlocked.CompareExchange(ref _references, n + 1, n) == n) return true;
        }
    }

    /// <param name="disposeLater">
    /// When this is the last reference, free the sessions on the thread pool: the pipeline thread lets go of a
    /// replaced model between two frames and must not spend the milliseconds ONNX Runtime takes to free it.
    /// </param>
    public void Release(bool disposeLater = false)
    {
        var left = Interlocked.Decrement(ref _references);
        if (left < 0)
        {
            Interlocked.Increment(ref _references);
            throw new InvalidOperationException("a model was released more often than it was taken");
        }
        if (left > 0 || !_owns) return;
        if (disposeLater) ThreadPool.UnsafeQueueUserWorkItem(static m => m.DisposeSessions(), this, preferLocal: false);
        else DisposeSessions();
    }

    private void DisposeSessions()
    {
        Camera.Dispose();
        if (!ReferenceEquals(Uploads, Camera)) Uploads?.Dispose();
    }
}
