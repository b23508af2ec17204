using System.Threading.Channels;
using Edge.Daemon.Lifecycle;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Storage;

/// <summary>
/// Carries results from the pipeline into the <see cref="ResultStore"/>, off the frame path. It owns the
/// store: opens it (and keeps trying, with backoff, when it cannot: a garbage file, a read-only folder,
/// a missing mount), writes in batches, and when writes fail (disk full) keeps up to
/// <c>maxPending</c> results in memory and retries. Beyond that the oldest are dropped, counted as lost
/// and said once. At stop it flushes what it can and counts the rest as lost. Nothing is lost silently.
/// </summary>
public sealed class ResultWriter
{
    private readonly Func<ResultStore> _open;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly Channel<StoreEntry> _queue;
    private readonly SaidOnce _said = new();
    private readonly Lock _storeGate = new();
    private readonly int _batchSize;
    private ResultStore? _store;
    private long _lost, _written;
    private int _inFlight;
    private string? _error;

    public ResultWriter(string path, Func<ResultStore> open, int maxPending, ILogger logger, TimeProvider? clock = null)
    {
        Path = System.IO.Path.GetFullPath(path);
        _open = open;
        _logger = logger;
        _clock = clock ?? TimeProvider.System;
        MaxPending = maxPending;
        // The batch in hand counts against the bound: queue + batch never exceed maxPending.
        _batchSize = Math.Clamp(maxPending / 2, 1, 64);
        _queue = Channel.CreateBounded<StoreEntry>(new BoundedChannelOptions(Math.Max(1, maxPending - _batchSize)) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            dropped =>
            {
                if (ReferenceEquals(dropped, WakeUp)) return; // a wake-up, not a result
                Interlocked.Increment(ref _lost);
                if (_said.First("full"))
                    _logger.LogError("Results store {Path}: {Max} results are waiting; the oldest are dropped from now on (counted in store.lost)", Path, maxPending);
            });
    }

    public string Path { get; }
    public int MaxPending { get; }
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Results waiting to be written (queued and in the batch being written).</summary>
    public int Pending => _queue.Reader.Count + Volatile.Read(ref _eventCount) + Volatile.Read(ref _inFlight);
    public long Lost => Interlocked.Read(ref _lost);
    public long Written => Interlocked.Read(ref _written);
    /// <summary>Why results are not being written now, or null.</summary>
    public string? Error => Volatile.Read(ref _error);
    public bool IsOpen { get { lock (_storeGate) return _store is not null; } }

    /// <summary>The last place given in the queue (<see cref="StoreEntry.Order"/>).</summary>
    private long _order;

    /// <summary>
    /// Queues an entry; never blocks. Results: when full, the oldest waiting result is dropped and counted. Events (state
    /// changes, model events) wait in a queue of their own that results never push out: webhooks deliver them from the
    /// store, so dropping one would break their order and completeness. Beyond <see cref="MaxPendingEvents"/> they too are counted lost.
    /// </summary>
    public void Add(StoreEntry record)
    {
        record.Order = Interlocked.Increment(ref _order);
        if (record is ResultRecord)
        {
            if (!_queue.Writer.TryWrite(record)) Interlocked.Increment(ref _lost); // only after stop
            return;
        }
        if (Interlocked.Increment(ref _eventCount) > MaxPendingEvents)
        {
            Interlocked.Decrement(ref _eventCount);
            Interlocked.Increment(ref _lost);
            Interlocked.Increment(ref _lostEvents);
            if (_said.First("events full"))
                _logger.LogError("Results store {Path}: {Max} events are waiting; newer ones are dropped (counted in store.lost)", Path, MaxPendingEvents);
            return;
        }
        _events.Enqueue(record);
        // Wakes the writer (which waits on the results channel); a wake-up is never stored. Only into an empty channel:
        // one that holds results wakes the writer anyway, and a wake-up must not push the oldest result out of a full one.
        if (_queue.Reader.Count == 0) _queue.Writer.TryWrite(WakeUp);
    }

    /// <summary>Events kept in memory at most while the database cannot take them.</summary>
    public const int MaxPendingEvents = 100_000;
    private static readonly StoreEntry WakeUp = new WakeUpEntry();
    private sealed record WakeUpEntry() : StoreEntry(default(DateTimeOffset));
    private readonly System.Collections.Concurrent.ConcurrentQueue<StoreEntry> _events = new();
    private int _eventCount;
    private long _lostEvents;

    /// <summary>The id of the newest state change written (0 before the first), kept by the writer so readers need not query.</summary>
    public long LastEventId => Interlocked.Read(ref _lastEventId);
    private long _lastEventId;

    /// <summary>The id of the newest result written (0 before the first).</summary>
    public long LastResultId => Interlocked.Read(ref _lastResultId);
    private long _lastResultId;

    /// <summary>Events (state changes, model events) that could not be kept.</summary>
    public long LostEvents => Interlocked.Read(ref _lostEvents);

    /// <summary>
    /// Takes waiting entries into <paramref name="batch"/> in the order they were queued, results and events alike (each
    /// has its place from <see cref="Add"/>): a frame's results are queued before its state changes, so they are committed
    /// with or before them, and a webhook that takes both sends a result before the change it caused. Events still never
    /// wait behind a dropped result, nor are they ever dropped (they wait in a queue of their own).
    /// </summary>
    private void Fill(List<StoreEntry> batch, int max)
    {
        var reader = _queue.Reader;
        while (batch.Count < max)
        {
            StoreEntry? result = null;
            while (reader.TryPeek(out var peeked))
            {
                if (!ReferenceEquals(peeked, WakeUp)) { result = peeked; break; }
                reader.TryRead(out _);
            }
            _events.TryPeek(out var ev);
            if (result is null && ev is null) break;
            if (ev is null || (result is not null && result.Order < ev.Order))
            {
                // The one peeked, or a newer one if a full queue dropped it meanwhile (the writer is the only reader).
                if (reader.TryRead(out var taken) && !ReferenceEquals(taken, WakeUp)) batch.Add(taken);
            }
            else if (_events.TryDequeue(out var taken))
            {
                Interlocked.Decrement(ref _eventCount);
                batch.Add(taken);
            }
        }
        // Events left for the next batch keep the writer awake: their wake-ups may have been taken with this one.
        if (!_events.IsEmpty && reader.Count == 0) _queue.Writer.TryWrite(WakeUp);
    }

    /// <summary>The newest model events in the store.</summary>
    /// <exception cref="StoreUnavailableException">The store is not open (the message says why).</exception>
    public List<StoredModelEvent> ModelEvents(int limit)
    {
        lock (_storeGate)
        {
            if (_store is null) throw new StoreUnavailableException(Error ?? $"the results database '{Path}' is not open yet", null);
            try { return _store.ModelEvents(limit); }
            catch (Microsoft.Data.Sqlite.SqliteException e) { throw new StoreUnavailableException($"cannot read the results database '{Path}': {e.Message}", e); }
        }
    }

    /// <summary>Runs <paramref name="read"/> on the open store (webhook delivery keeps its queue position there).</summary>
    /// <exception cref="StoreUnavailableException">The store is not open or the read failed (the message says why).</exception>
    public T Use<T>(Func<ResultStore, T> read)
    {
        lock (_storeGate)
        {
            if (_store is null) throw new StoreUnavailableException(Error ?? $"the results database '{Path}' is not open yet", null);
            try { return read(_store); }
            catch (Microsoft.Data.Sqlite.SqliteException e) { throw new StoreUnavailableException($"the results database '{Path}': {e.Message}", e); }
        }
    }

    /// <summary>State changes from the store (see <see cref="ResultStore.Events"/>).</summary>
    /// <exception cref="StoreUnavailableException">The store is not open (the message says why).</exception>
    public List<StoredEvent> Events(long? afterId, int limit)
    {
        lock (_storeGate)
        {
            if (_store is null) throw new StoreUnavailableException(Error ?? $"the results database '{Path}' is not open yet", null);
            try { return _store.Events(afterId, limit); }
            catch (Microsoft.Data.Sqlite.SqliteException e) { throw new StoreUnavailableException($"cannot read the results database '{Path}': {e.Message}", e); }
        }
    }

    /// <summary>Rows from the store.</summary>
    /// <exception cref="StoreUnavailableException">The store is not open (the message says why).</exception>
    public List<StoredResult> Query(long? afterId, DateTimeOffset? since, int limit)
    {
        lock (_storeGate)
        {
            if (_store is null) throw new StoreUnavailableException(Error ?? $"the results database '{Path}' is not open yet", null);
            try
            {
                var rows = _store.Query(afterId, since, limit, out var unreadable);
                if (unreadable > 0 && _said.First("unreadable rows"))
                    _logger.LogWarning("Results store {Path}: {Count} rows cannot be read (damaged or edited) and are left out of /api/results", Path, unreadable);
                return rows;
            }
            catch (Microsoft.Data.Sqlite.SqliteException e) { throw new StoreUnavailableException($"cannot read the results database '{Path}': {e.Message}", e); }
        }
    }

    /// <summary>Opens the store and writes until <paramref name="ct"/> stops it; then flushes and closes.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var batch = new List<StoreEntry>(_batchSize);
        var backoff = InitialBackoff;
        var reader = _queue.Reader;
        Task<bool>? waiting = null;
        using var stopping = ct.UnsafeRegister(static s => ((Channel<StoreEntry>)s!).Writer.TryComplete(), _queue);
        try
        {
            while (true)
            {
                if (batch.Count == 0)
                {
                    waiting ??= reader.WaitToReadAsync(CancellationToken.None).AsTask();
                    // Opened at start and retried while closed, results or not: a broken store shows at once.
                    if (!waiting.IsCompleted && !TryOpen() && !ct.IsCancellationRequested)
                    {
                        await Task.WhenAny(waiting, Task.Delay(backoff, _clock, ct).ContinueWith(_ => { }, TaskScheduler.Default)).ConfigureAwait(false);
                        if (!waiting.IsCompleted)
                        {
                            backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
                            continue;
                        }
                    }
                    var more = await waiting.ConfigureAwait(false);
                    waiting = null;
                    if (!more) break;
                    Fill(batch, _batchSize);
                    Volatile.Write(ref _inFlight, batch.Count);
                    if (batch.Count == 0) continue;
                }
                if (TryWrite(batch))
                {
                    batch.Clear();
                    Volatile.Write(ref _inFlight, 0);
                    backoff = InitialBackoff;
                    continue;
                }
                if (ct.IsCancellationRequested) break;
                try { await Task.Delay(backoff, _clock, ct).ConfigureAwait(false); } catch (OperationCanceledException) { }
                backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
            }
        }
        finally
        {
            // Stopping: one last try for what is left; whatever cannot be written is counted, and said.
            Fill(batch, int.MaxValue);
            if (batch.Count > 0 && !TryWrite(batch))
            {
                Interlocked.Add(ref _lost, batch.Count);
                _logger.LogError("Results store {Path}: {Count} results could not be written before stopping and are lost ({Reason})", Path, batch.Count, Error);
            }
            Volatile.Write(ref _inFlight, 0);
            lock (_storeGate)
            {
                _store?.Dispose();
                _store = null;
            }
        }
    }

    private bool TryOpen()
    {
        try
        {
            lock (_storeGate) OpenLocked();
            return true;
        }
        catch (StoreUnavailableException e)
        {
            Failed(e.Message);
            return false;
        }
    }

    /// <summary>
    /// Opens the store when it is not open, reads what the writer keeps of it, and forgets webhook cursors of webhooks no
    /// longer configured; a store that fails any of that is closed again (and retried), never left half open.
    /// </summary>
    /// <exception cref="StoreUnavailableException">It cannot be opened or read.</exception>
    private ResultStore OpenLocked()
    {
        if (_store is not null) return _store;
        var store = _open();
        try
        {
            Interlocked.Exchange(ref _lastEventId, Math.Max(Interlocked.Read(ref _lastEventId), store.LastEventId()));
            Interlocked.Exchange(ref _lastResultId, Math.Max(Interlocked.Read(ref _lastResultId), store.LastResultId()));
        }
        catch (Exception e)
        {
            store.Dispose();
            if (e is Microsoft.Data.Sqlite.SqliteException) throw new StoreUnavailableException($"cannot read the results database '{Path}': {e.Message}", e);
            throw;
        }
        // Housekeeping: a store that cannot take it now (disk full, busy) is still used; the next start tries again.
        if (WebhookCursors is var (states, results))
            try { store.KeepWebhookCursors(states, results); }
            catch (Microsoft.Data.Sqlite.SqliteException e)
            {
                if (_said.First("cursors")) _logger.LogWarning("Results store {Path}: cannot forget the cursors of webhooks no longer configured: {Reason}", Path, e.Message);
            }
        return _store = store;
    }

    /// <summary>
    /// The cursor keys of the webhooks configured, per feed (set before <see cref="RunAsync"/>): other cursors are forgotten
    /// when the store opens. Null: cursors are left as they are.
    /// </summary>
    public (IReadOnlyCollection<string> StateChanges, IReadOnlyCollection<string> Results)? WebhookCursors { get; init; }

    private void Failed(string reason)
    {
        Volatile.Write(ref _error, reason);
        if (_said.First(reason))
            _logger.LogError("Results store: {Reason}; results are kept in memory (up to {Max}) and retried", reason, MaxPending);
    }

    private bool TryWrite(List<StoreEntry> batch)
    {
        try
        {
            lock (_storeGate)
            {
                var ids = OpenLocked().Add(batch);
                long lastEvent = 0, lastResult = 0;
                for (var i = 0; i < batch.Count; i++)
                    if (batch[i] is StateEventRecord) lastEvent = ids[i];
                    else if (batch[i] is ResultRecord) lastResult = ids[i];
                if (lastEvent > 0) Interlocked.Exchange(ref _lastEventId, Math.Max(Interlocked.Read(ref _lastEventId), lastEvent));
                if (lastResult > 0) Interlocked.Exchange(ref _lastResultId, Math.Max(Interlocked.Read(ref _lastResultId), lastResult));
            }
            Interlocked.Add(ref _written, batch.Count);
            if (Volatile.Read(ref _error) is not null)
            {
                _logger.LogInformation("Results store {Path} is writable again; writing resumed", Path);
                Volatile.Write(ref _error, null);
                _said.Reset();
            }
            return true;
        }
        catch (Exception e) when (e is StoreUnavailableException or IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
        {
            Failed(e is Microsoft.Data.Sqlite.SqliteException ? $"cannot write to '{Path}': {e.Message}" : e.Message);
            return false;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Not the disk: these rows cannot be written however often they are retried. Count them, say so, go on.
            Interlocked.Add(ref _lost, batch.Count);
            var reason = $"{batch.Count} results could not be written ({e.GetType().Name}: {e.Message})";
            if (_said.First("unwritable:" + e.GetType().Name)) _logger.LogError("Results store {Path}: {Reason}; counted as lost", Path, reason);
            return true;
        }
    }
}
