using System.Diagnostics;
using System.Threading.Channels;
using Edge.Core.Imaging;
using Edge.Core.Inference;
using Edge.Daemon.Storage;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Http;

/// <summary>The outcome of one upload: predictions, or why not (with the HTTP status to answer).</summary>
public sealed record UploadOutcome(IReadOnlyList<StoredPrediction>? Top, double LatencyMs, int Status, string? Error);

/// <summary>
/// Classifies uploaded images (POST /api/classify) without taking the camera's place. Uploads have their
/// own classifier (its own ONNX Runtime session on one thread, its own decode buffers and pixel limit)
/// and one worker thread at a lower scheduling priority, so a burst of large uploads slows itself, not
/// the camera. A client first reserves one of <c>capacity</c> queue places (before its body is read,
/// so memory is bounded too); when none is free it is told to come back later (503). After an image
/// larger than usual its decode buffers are released, so one huge upload does not stay resident.
/// With a <see cref="Models.ModelSwitch"/>, each upload leases the current model, so a model update never
/// disposes a session an upload is using, and uploads follow the camera onto the new model.
/// </summary>
public sealed class UploadClassifier : IDisposable
{
    /// <summary>Decode buffers above this are released after each upload.</summary>
    public const long KeepBufferBytes = 16L * 1024 * 1024;

    private readonly Models.ModelSwitch _models;
    private readonly int _topK;
    private readonly ILogger _logger;
    private readonly Channel<Job> _jobs = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Thread _worker;
    private readonly Prediction[] _top;
    private readonly Lifecycle.SaidOnce _said = new();
    private int _reserved;
    private long _completed, _rejected, _failed;

    private sealed record Job(byte[] Image, int Length, CancellationToken Token, TaskCompletionSource<UploadOutcome> Done);

    /// <summary>Uploads on the switch's current model (its uploads classifier); the switch stays the caller's.</summary>
    public UploadClassifier(Models.ModelSwitch models, int capacity, int topK, ILogger logger)
    {
        _models = models;
        _logger = logger;
        Capacity = capacity;
        _topK = topK;
        _top = new Prediction[topK];
        _worker = new Thread(Work) { IsBackground = true, Name = "edged uploads" };
        _worker.Start();
    }

    public int Capacity { get; }
    public int Queued => Volatile.Read(ref _reserved);
    public long Completed => Interlocked.Read(ref _completed);
    public long Rejected => Interlocked.Read(ref _rejected);
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Takes a queue place, or returns false (counted) when all are taken; release with <see cref="Release"/> if not submitted.</summary>
    public bool TryReserve()
    {
        while (true)
        {
            var n = Volatile.Read(ref _reserved);
            if (n >= Capacity)
            {
                Interlocked.Increment(ref _rejected);
                return false;
            }
            if (Interlocked.CompareExchange(ref _reserved, n + 1, n) == n) return true;
        }
    }

    public void Release() => Interlocked.Decrement(ref _reserved);

    /// <summary>Classifies an image for a reserved place (which this releases).</summary>
    public Task<UploadOutcome> ClassifyAsync(byte[] image, int length, CancellationToken ct)
    {
        var job = new Job(image, length, ct, new TaskCompletionSource<UploadOutcome>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_jobs.Writer.TryWrite(job))
        {
            Release();
            return Task.FromResult(new UploadOutcome(null, 0, 503, "edged is stopping"));
        }
        return job.Done.Task;
    }

    private void Work()
    {
        Interop.ThreadPriority.LowerCurrentThread(10);
        var reader = _jobs.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var job))
            {
                // The place is given back before the client hears the answer: a client that sends its next
                // upload as soon as it has one must find the place free, however late this thread runs.
                UploadOutcome outcome;
                try
                {
                    outcome = job.Token.IsCancellationRequested ? new UploadOutcome(null, 0, 499, "the client went away") : Run(job);
                }
                catch (Exception e)
                {
                    Release();
                    job.Done.TrySetException(e);
                    continue;
                }
                Release();
                job.Done.TrySetResult(outcome);
            }
        }
    }

    private UploadOutcome Run(Job job)
    {
        var t0 = Stopwatch.GetTimestamp();
        Models.LoadedModel model;
        try { model = _models.Lease(); }
        catch (ObjectDisposedException) { return new UploadOutcome(null, 0, 503, "edged is stopping"); }
        if (model.Uploads is not { } classifier)
        {
            model.Release();
            throw new InvalidOperationException("the running model was loaded without an uploads classifier");
        }
        try
        {
            classifier.LoadImage(job.Image.AsSpan(0, job.Length));
            classifier.Run();
            var n = classifier.TopK(0, _top.AsSpan(0, Math.Min(_topK, classifier.ClassCount)));
            Interlocked.Increment(ref _completed);
            return new UploadOutcome([.. _top[..n].Select(p => new StoredPrediction(p.Label, p.ClassIndex, p.Score))],
                Stopwatch.GetElapsedTime(t0).TotalMilliseconds, 200, null);
        }
        catch (ImageDecodeException e)
        {
            Interlocked.Increment(ref _failed);
            return new UploadOutcome(null, 0, e.Kind == ImageErrorKind.TooLarge ? 413 : 400, e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Interlocked.Increment(ref _failed);
            var reason = e is InferenceException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            if (_said.First(reason)) _logger.LogWarning("Upload classification failed: {Reason} (said once per kind)", reason);
            return new UploadOutcome(null, 0, 500, $"the model could not classify this image: {reason}");
        }
        finally
        {
            classifier.TrimBuffers(KeepBufferBytes);
            model.Release();
        }
    }

    public void Dispose()
    {
        _jobs.Writer.TryComplete();
        _worker.Join(TimeSpan.FromSeconds(5));
    }
}
