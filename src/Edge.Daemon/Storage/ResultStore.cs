using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Cli;
using Microsoft.Data.Sqlite;

namespace Edge.Daemon.Storage;

/// <summary>What a webhook is sent from the store: state changes (events), or results of chosen classes.</summary>
public enum WebhookFeed { StateChanges, Results }

/// <summary>A page of a webhook's results feed (see <see cref="ResultStore.ResultsDecided"/>).</summary>
public sealed record ResultsPage(IReadOnlyList<StoredResult> Rows, bool Full, long ScannedTo, long Oldest)
{
    public static readonly ResultsPage Empty = new([], false, 0, 0);
}

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata, PropertyNamingPolicy = JsonNaming.Policy, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(List<StoredPrediction>))]
[JsonSerializable(typeof(StoredPrediction[]))]
internal sealed partial class StoreJson : JsonSerializerContext;

/// <summary>
/// Results in SQLite (WAL journal). A row is acknowledged when its transaction commits; WAL with
/// synchronous=NORMAL means a committed row survives the process being killed (kill -9), since it
/// is in the OS's hands; only a power cut can lose the last transactions, which FULL would prevent
/// at the cost of an fsync per frame on an SD card. Retention keeps at most <c>maxRows</c> rows
/// and none older than <c>maxAge</c>.
/// </summary>
public sealed class ResultStore : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly SqliteCommand _insert;
    private readonly int _maxRows;
    private readonly TimeSpan _maxAge;
    private long _sinceCleanup;

    public ResultStore(string path, int maxRows = 100_000, TimeSpan? maxAge = null, int maxEvents = 10_000)
    {
        Path = System.IO.Path.GetFullPath(path);
        _maxRows = maxRows;
        _maxEvents = Math.Max(1, maxEvents);
        _maxAge = maxAge ?? TimeSpan.FromDays(30);
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            if (Onnx.IO.BoundedFile.Probe(Path) is { IsRegular: false } probe)
                throw new IOException($"it is {probe.Type}");
            _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
            _db.Open();
            Execute("PRAGMA journal_mode=WAL;");
            Execute("PRAGMA synchronous=NORMAL;");
            Execute("""
                CREATE TABLE IF NOT EXISTS results (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  time_ms INTEGER NOT NULL,
                  source TEXT NOT NULL,
                  trigger TEXT NOT NULL,
                  top TEXT NOT NULL,
                  latency_ms REAL NOT NULL,
                  snapshot TEXT);
                CREATE INDEX IF NOT EXISTS results_time ON results(time_ms);
                CREATE TABLE IF NOT EXISTS model_events (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  time_ms INTEGER NOT NULL,
                  event TEXT NOT NULL,
                  sha256 TEXT,
                  origin TEXT NOT NULL,
                  detail TEXT);
                CREATE TABLE IF NOT EXISTS events (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  time_ms INTEGER NOT NULL,
                  camera TEXT NOT NULL,
                  region TEXT NOT NULL,
                  from_state TEXT,
                  to_state TEXT NOT NULL,
                  score REAL NOT NULL,
                  top TEXT NOT NULL,
                  frame INTEGER NOT NULL,
                  model TEXT,
                  snapshot TEXT,
                  clip TEXT);
                CREATE TABLE IF NOT EXISTS meta (
                  key TEXT PRIMARY KEY,
                  value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS webhook_cursors (
                  url TEXT PRIMARY KEY,
                  last_id INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS webhook_result_cursors (
                  url TEXT PRIMARY KEY,
                  last_id INTEGER NOT NULL);
                """);
            // Stores written before results named their model get the column (empty for their old rows).
            if (!HasColumn("results", "model")) Execute("ALTER TABLE results ADD COLUMN model TEXT;");
            // ... and those written before regions their region and state (empty: the whole frame, no decision).
            if (!HasColumn("results", "region")) Execute("ALTER TABLE results ADD COLUMN region TEXT; ALTER TABLE results ADD COLUMN state TEXT;");
            // ... and those written before several cameras their camera (empty: the one camera there was).
            if (!HasColumn("results", "camera")) Execute("ALTER TABLE results ADD COLUMN camera TEXT;");
            // ... and those written before results kept their own decision (class or unknown) that column (empty for old rows).
            if (!HasColumn("results", "decision")) Execute("ALTER TABLE results ADD COLUMN decision TEXT;");
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            _db?.Dispose();
            throw new StoreUnavailableException($"cannot open the results database '{Path}': {(e is SqliteException s ? Describe(s) : e.Message)}", e);
        }
        _insert = _db.CreateCommand();
        _insert.CommandText = "INSERT INTO results(time_ms, source, trigger, top, latency_ms, snapshot, model, region, state, camera, decision) VALUES ($t, $s, $g, $k, $l, $p, $m, $r, $x, $c, $d);";
        foreach (var p in new[] { "$t", "$s", "$g", "$k", "$l", "$p", "$m", "$r", "$x", "$c", "$d" }) _insert.Parameters.Add(new SqliteParameter(p, null));
        _insertState = _db.CreateCommand();
        _insertState.CommandText = "INSERT INTO events(time_ms, camera, region, from_state, to_state, score, top, frame, model, snapshot, clip) VALUES ($t, $c, $r, $f, $o, $s, $k, $n, $m, $p, $l);";
        foreach (var p in new[] { "$t", "$c", "$r", "$f", "$o", "$s", "$k", "$n", "$m", "$p", "$l" }) _insertState.Parameters.Add(new SqliteParameter(p, null));
        _insertEvent = _db.CreateCommand();
        _insertEvent.CommandText = "INSERT INTO model_events(time_ms, event, sha256, origin, detail) VALUES ($t, $e, $h, $o, $d);";
        foreach (var p in new[] { "$t", "$e", "$h", "$o", "$d" }) _insertEvent.Parameters.Add(new SqliteParameter(p, null));
    }

    private readonly SqliteCommand _insertEvent;
    private readonly SqliteCommand _insertState;
    private readonly int _maxEvents;
    private SqliteCommand? _lastRowId;

    /// <summary>
    /// The id of the row just inserted. Not INSERT ... RETURNING: that needs SQLite 3.35, and the glibc-2.31 arm64 build
    /// uses the system's SQLite (3.31 on Ubuntu 20.04 / JetPack 5, 3.34 on Debian 11).
    /// </summary>
    private long LastRowId(SqliteTransaction tx)
    {
        _lastRowId ??= _db.CreateCommand();
        _lastRowId.CommandText = "SELECT last_insert_rowid();";
        _lastRowId.Transaction = tx;
        return (long)_lastRowId.ExecuteScalar()!;
    }

    /// <summary>Most model events kept (they are rare; this bounds a flood of refused uploads).</summary>
    public const int MaxModelEvents = 1000;

    private bool HasColumn(string table, string column)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = $"SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = $c;";
        cmd.Parameters.AddWithValue("$c", column);
        return (long)cmd.ExecuteScalar()! > 0;
    }

    public string Path { get; }

    /// <summary>Commits the rows in one transaction and returns their ids.</summary>
    /// <exception cref="StoreUnavailableException">The disk is full, read-only or gone; nothing was committed.</exception>
    public long[] Add(IReadOnlyList<StoreEntry> records)
    {
        var ids = new long[records.Count];
        int events = 0, states = 0;
        try
        {
            using var tx = _db.BeginTransaction();
            _insert.Transaction = tx;
            _insertEvent.Transaction = tx;
            _insertState.Transaction = tx;
            for (var i = 0; i < records.Count; i++)
            {
                if (records[i] is ModelEventRecord m)
                {
                    _insertEvent.Parameters[0].Value = m.Time.ToUnixTimeMilliseconds();
                    _insertEvent.Parameters[1].Value = m.Event;
                    _insertEvent.Parameters[2].Value = (object?)m.Sha256 ?? DBNull.Value;
                    _insertEvent.Parameters[3].Value = m.Origin;
                    _insertEvent.Parameters[4].Value = (object?)m.Detail ?? DBNull.Value;
                    _insertEvent.ExecuteNonQuery();
                    ids[i] = LastRowId(tx);
                    events++;
                    continue;
                }
                if (records[i] is StateEventRecord e)
                {
                    var q = _insertState.Parameters;
                    q[0].Value = e.Time.ToUnixTimeMilliseconds();
                    q[1].Value = e.Camera;
                    q[2].Value = e.Region;
                    q[3].Value = (object?)e.From ?? DBNull.Value;
                    q[4].Value = e.To;
                    q[5].Value = (double)e.Score;
                    q[6].Value = JsonSerializer.Serialize(e.Top.ToList(), StoreJson.Default.ListStoredPrediction);
                    q[7].Value = e.Frame;
                    q[8].Value = (object?)e.Model ?? DBNull.Value;
                    q[9].Value = (object?)e.Snapshot ?? DBNull.Value;
                    q[10].Value = (object?)e.Clip ?? DBNull.Value;
                    _insertState.ExecuteNonQuery();
                    ids[i] = LastRowId(tx);
                    states++;
                    continue;
                }
                var r = (ResultRecord)records[i];
                _insert.Parameters[0].Value = r.Time.ToUnixTimeMilliseconds();
                _insert.Parameters[1].Value = r.Source;
                _insert.Parameters[2].Value = r.Trigger;
                _insert.Parameters[3].Value = JsonSerializer.Serialize(r.Top.ToList(), StoreJson.Default.ListStoredPrediction);
                _insert.Parameters[4].Value = r.LatencyMs;
                _insert.Parameters[5].Value = (object?)r.Snapshot ?? DBNull.Value;
                _insert.Parameters[6].Value = (object?)r.Model ?? DBNull.Value;
                _insert.Parameters[7].Value = (object?)r.Region ?? DBNull.Value;
                _insert.Parameters[8].Value = (object?)r.State ?? DBNull.Value;
                _insert.Parameters[9].Value = (object?)r.Camera ?? DBNull.Value;
                _insert.Parameters[10].Value = (object?)r.Decision ?? DBNull.Value;
                _insert.ExecuteNonQuery();
                ids[i] = LastRowId(tx);
            }
            // Trimmed in the same transaction: a failure after a commit would make the writer write the batch twice.
            if (events > 0) Execute($"DELETE FROM model_events WHERE id <= (SELECT MAX(id) FROM model_events) - {MaxModelEvents};", tx);
            // Events a webhook has not had yet are kept beyond MaxEvents, up to ten times it (a receiver gone for good must not fill the disk).
            if (states > 0)
                Execute($"DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - {_maxEvents} AND (id <= (SELECT COALESCE(MIN(last_id), 9223372036854775807) FROM webhook_cursors) OR id <= (SELECT MAX(id) FROM events) - {10L * _maxEvents});", tx);
            tx.Commit();
        }
        catch (SqliteException e)
        {
            throw new StoreUnavailableException(Describe(e), e);
        }
        _sinceCleanup += records.Count;
        if (_sinceCleanup >= 500) Cleanup();
        return ids;
    }

    /// <summary>
    /// Rows with id greater than <paramref name="afterId"/> and time at or after <paramref name="since"/>,
    /// in id order. With a cursor (<paramref name="afterId"/> given, 0 included, or <paramref name="since"/>)
    /// these are the first <paramref name="limit"/> after it, so paging with last_id sees every row;
    /// without one, the newest <paramref name="limit"/>. Rows that cannot be read (edited by hand, damaged) are
    /// skipped and counted in <paramref name="unreadable"/>.
    /// </summary>
    public List<StoredResult> Query(long? afterId, DateTimeOffset? since, int limit, out int unreadable)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = afterId is not null || since is not null
            ? "SELECT id, time_ms, source, trigger, top, latency_ms, snapshot, model, region, state, camera, decision FROM results WHERE id > $a AND time_ms >= $t ORDER BY id LIMIT $n;"
            : "SELECT id, time_ms, source, trigger, top, latency_ms, snapshot, model, region, state, camera, decision FROM (SELECT * FROM results ORDER BY id DESC LIMIT $n) ORDER BY id;";
        cmd.Parameters.AddWithValue("$a", afterId ?? 0);
        cmd.Parameters.AddWithValue("$t", since?.ToUnixTimeMilliseconds() ?? long.MinValue);
        cmd.Parameters.AddWithValue("$n", Math.Clamp(limit, 1, 10_000));
        return ReadResults(cmd, out unreadable, out _, out _);
    }

    private static List<StoredResult> ReadResults(SqliteCommand cmd, out int unreadable, out int read, out long lastId)
    {
        var list = new List<StoredResult>();
        unreadable = read = 0;
        lastId = 0;
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            read++;
            lastId = r.GetInt64(0);
            try
            {
                list.Add(new StoredResult(r.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)), r.GetString(2), r.GetString(3),
                    JsonSerializer.Deserialize(r.GetString(4), StoreJson.Default.ListStoredPrediction) ?? [], r.GetDouble(5), r.IsDBNull(6) ? null : r.GetString(6),
                    r.IsDBNull(7) ? null : r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8), r.IsDBNull(9) ? null : r.GetString(9),
                    r.IsDBNull(10) ? null : r.GetString(10), r.IsDBNull(11) ? null : r.GetString(11)));
            }
            catch (Exception e) when (e is JsonException or ArgumentOutOfRangeException or InvalidCastException or FormatException or InvalidOperationException)
            {
                unreadable++;
            }
        }
        return list;
    }

    /// <summary>
    /// Results after <paramref name="afterId"/> whose own decision is one of <paramref name="decisions"/>, in id order, at most
    /// <paramref name="limit"/> rows read. <c>Full</c>: the page was full (more may follow); <c>ScannedTo</c> is how far the
    /// table was looked through (the last row read when full, else the newest row), so that a cursor passes rows that did not
    /// match without reading them again; <c>Oldest</c> the oldest row kept (a cursor before it lost rows to retention).
    /// A row that cannot be read (edited by hand) is passed over, as in <see cref="Query(long?, DateTimeOffset?, int, out int)"/>.
    /// </summary>
    public ResultsPage ResultsDecided(long afterId, IReadOnlyList<string> decisions, int limit)
    {
        long newest, oldest;
        using (var bounds = _db.CreateCommand())
        {
            // Two subqueries, each one index lookup: MIN and MAX in one SELECT would read the whole table.
            bounds.CommandText = "SELECT (SELECT COALESCE(MAX(id), 0) FROM results), (SELECT COALESCE(MIN(id), 0) FROM results);";
            using var b = bounds.ExecuteReader();
            b.Read();
            (newest, oldest) = (b.GetInt64(0), b.GetInt64(1));
        }
        using var cmd = _db.CreateCommand();
        var names = string.Join(", ", decisions.Select((_, i) => "$d" + i));
        // Bounded by the newest row seen above (one connection, one thread at a time: nothing is written in between).
        cmd.CommandText = $"SELECT id, time_ms, source, trigger, top, latency_ms, snapshot, model, region, state, camera, decision FROM results WHERE id > $a AND id <= $z AND decision IN ({names}) ORDER BY id LIMIT $n;";
        cmd.Parameters.AddWithValue("$a", afterId);
        cmd.Parameters.AddWithValue("$z", newest);
        cmd.Parameters.AddWithValue("$n", Math.Clamp(limit, 1, 10_000));
        for (var i = 0; i < decisions.Count; i++) cmd.Parameters.AddWithValue("$d" + i, decisions[i]);
        var rows = ReadResults(cmd, out _, out var read, out var lastId);
        var full = read >= limit;
        return new ResultsPage(rows, full, full ? lastId : Math.Max(afterId, newest), oldest);
    }

    public List<StoredResult> Query(long? afterId = null, DateTimeOffset? since = null, int limit = 100) => Query(afterId, since, limit, out _);

    /// <summary>The newest <paramref name="limit"/> model events, oldest first.</summary>
    public List<StoredModelEvent> ModelEvents(int limit)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT id, time_ms, event, sha256, origin, detail FROM (SELECT * FROM model_events ORDER BY id DESC LIMIT $n) ORDER BY id;";
        cmd.Parameters.AddWithValue("$n", Math.Clamp(limit, 1, MaxModelEvents));
        var list = new List<StoredModelEvent>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            try
            {
                list.Add(new StoredModelEvent(r.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3),
                    r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5)));
            }
            catch (Exception e) when (e is ArgumentOutOfRangeException or InvalidCastException or FormatException or InvalidOperationException)
            {
                // A row edited by hand is left out, as in Query.
            }
        }
        return list;
    }

    /// <summary>
    /// State changes with id greater than <paramref name="afterId"/>, in id order, at most <paramref name="limit"/>; without
    /// a cursor the newest <paramref name="limit"/>. Webhook delivery reads its queue from here.
    /// </summary>
    public List<StoredEvent> Events(long? afterId, int limit)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = afterId is not null
            ? "SELECT id, time_ms, camera, region, from_state, to_state, score, top, frame, model, snapshot, clip FROM events WHERE id > $a ORDER BY id LIMIT $n;"
            : "SELECT id, time_ms, camera, region, from_state, to_state, score, top, frame, model, snapshot, clip FROM (SELECT * FROM events ORDER BY id DESC LIMIT $n) ORDER BY id;";
        cmd.Parameters.AddWithValue("$a", afterId ?? 0);
        cmd.Parameters.AddWithValue("$n", Math.Clamp(limit, 1, 10_000));
        var list = new List<StoredEvent>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            try
            {
                list.Add(new StoredEvent(r.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)), r.GetString(2), r.GetString(3),
                    r.IsDBNull(4) ? null : r.GetString(4), r.GetString(5), (float)r.GetDouble(6),
                    JsonSerializer.Deserialize(r.GetString(7), StoreJson.Default.ListStoredPrediction) ?? [], r.GetInt64(8),
                    r.IsDBNull(9) ? null : r.GetString(9), r.IsDBNull(10) ? null : r.GetString(10), r.IsDBNull(11) ? null : r.GetString(11)));
            }
            catch (Exception e) when (e is JsonException or ArgumentOutOfRangeException or InvalidCastException or FormatException or InvalidOperationException)
            {
                // A row edited by hand is left out, as in Query.
            }
        }
        return list;
    }

    /// <summary>
    /// The id of the last event delivered to <paramref name="url"/>. A webhook seen for the first time starts after the last
    /// event from before <paramref name="since"/> (the daemon's start: it is sent what happens from then on, not the history),
    /// and that start is kept.
    /// </summary>
    public long WebhookCursor(string url, DateTimeOffset since, WebhookFeed feed = WebhookFeed.StateChanges)
    {
        var (table, source) = Cursors(feed);
        using var cmd = _db.CreateCommand();
        cmd.CommandText = $"INSERT OR IGNORE INTO {table}(url, last_id) VALUES ($u, (SELECT COALESCE(MAX(id), 0) FROM {source} WHERE time_ms < $t)); SELECT last_id FROM {table} WHERE url = $u;";
        cmd.Parameters.AddWithValue("$u", url);
        cmd.Parameters.AddWithValue("$t", since.ToUnixTimeMilliseconds());
        return (long)cmd.ExecuteScalar()!;
    }

    /// <summary>Remembers that <paramref name="feed"/> up to <paramref name="lastId"/> reached <paramref name="url"/> (committed at once: a restart resumes after it).</summary>
    public void SetWebhookCursor(string url, long lastId, WebhookFeed feed = WebhookFeed.StateChanges)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = $"UPDATE {Cursors(feed).Table} SET last_id = MAX(last_id, $i) WHERE url = $u;";
        cmd.Parameters.AddWithValue("$u", url);
        cmd.Parameters.AddWithValue("$i", lastId);
        cmd.ExecuteNonQuery();
    }

    /// <summary>
    /// Forgets <paramref name="url"/>'s cursor of <paramref name="feed"/> (a webhook no longer sent it): retention no longer
    /// keeps rows for it.
    /// </summary>
    public void DropWebhookCursor(string url, WebhookFeed feed)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = $"DELETE FROM {Cursors(feed).Table} WHERE url = $u;";
        cmd.Parameters.AddWithValue("$u", url);
        cmd.ExecuteNonQuery();
    }

    /// <summary>
    /// Forgets the cursors of webhooks no longer configured (<paramref name="stateChanges"/>, <paramref name="results"/>: the
    /// keys of those that are, per feed), so that a webhook removed or pointed elsewhere no longer holds back retention.
    /// </summary>
    public void KeepWebhookCursors(IReadOnlyCollection<string> stateChanges, IReadOnlyCollection<string> results)
    {
        foreach (var (feed, keys) in new[] { (WebhookFeed.StateChanges, stateChanges), (WebhookFeed.Results, results) })
        {
            using var cmd = _db.CreateCommand();
            var names = string.Join(", ", keys.Select((_, i) => "$k" + i));
            cmd.CommandText = $"DELETE FROM {Cursors(feed).Table}{(keys.Count == 0 ? "" : $" WHERE url NOT IN ({names})")};";
            var i = 0;
            foreach (var k in keys) cmd.Parameters.AddWithValue("$k" + i++, k);
            cmd.ExecuteNonQuery();
        }
    }

    private static (string Table, string Source) Cursors(WebhookFeed feed) =>
        feed == WebhookFeed.Results ? ("webhook_result_cursors", "results") : ("webhook_cursors", "events");

    /// <summary>
    /// A random id of this database, made once: with an event's id it names a delivery uniquely across devices and a
    /// recreated database (whose event ids start again at 1).
    /// </summary>
    public string InstanceId()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "INSERT OR IGNORE INTO meta(key, value) VALUES ('instance', $v); SELECT value FROM meta WHERE key = 'instance';";
        cmd.Parameters.AddWithValue("$v", Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..16]);
        return (string)cmd.ExecuteScalar()!;
    }

    /// <summary>The id of the newest result (0 when none).</summary>
    public long LastResultId()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT COALESCE(MAX(id), 0) FROM results;";
        return (long)cmd.ExecuteScalar()!;
    }

    /// <summary>The id of the newest state change (0 when none).</summary>
    public long LastEventId()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT COALESCE(MAX(id), 0) FROM events;";
        return (long)cmd.ExecuteScalar()!;
    }

    public long Count()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM results;";
        return (long)cmd.ExecuteScalar()!;
    }

    /// <summary>Applies retention: at most maxRows rows, none older than maxAge.</summary>
    public void Cleanup()
    {
        _sinceCleanup = 0;
        try
        {
            using var cmd = _db.CreateCommand();
            // Results a webhook has not had yet (Webhooks:N:Results) are kept beyond the limits, up to twice MaxRows and twice MaxAgeDays.
            cmd.CommandText = "DELETE FROM results WHERE time_ms < $u OR id <= (SELECT MAX(id) FROM results) - 2 * $n OR ((time_ms < $t OR id <= (SELECT MAX(id) FROM results) - $n) AND " +
                "id <= (SELECT COALESCE(MIN(last_id), 9223372036854775807) FROM webhook_result_cursors));";
            var now = DateTimeOffset.UtcNow;
            cmd.Parameters.AddWithValue("$t", now.Add(-_maxAge).ToUnixTimeMilliseconds());
            cmd.Parameters.AddWithValue("$u", now.Add(-2 * _maxAge).ToUnixTimeMilliseconds());
            cmd.Parameters.AddWithValue("$n", _maxRows);
            cmd.ExecuteNonQuery();
        }
        catch (SqliteException)
        {
            // Retention failing (full disk) must not stop recording; the next round retries.
        }
    }

    private static string Describe(SqliteException e) => e.SqliteErrorCode switch
    {
        13 => "the disk is full",
        8 => "the database is read-only",
        10 => "disk I/O error",
        14 => "the database file cannot be opened",
        26 => "the file is not a SQLite database",
        11 => "the database file is corrupt",
        _ => e.Message,
    };

    private void Execute(string sql, SqliteTransaction? tx = null)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        cmd.ExecuteNonQuery();
    }

    public void Dispose()
    {
        _insert.Dispose();
        _insertEvent.Dispose();
        _insertState.Dispose();
        _lastRowId?.Dispose();
        _db.Dispose();
    }
}
