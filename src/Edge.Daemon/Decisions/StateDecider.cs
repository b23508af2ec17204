namespace Edge.Daemon.Decisions;

/// <summary>A state change of one region: from <paramref name="From"/> (null before the first decision) to <paramref name="To"/>.</summary>
public readonly record struct StateChange(string? From, string To, float Score, DateTimeOffset Since);

/// <summary>
/// The state of one region, decided from its results by <see cref="DecisionOptions"/>. Works on class indices, so a
/// result that changes nothing allocates nothing; a change returns a <see cref="StateChange"/>. One per region; not
/// thread-safe (the pipeline's thread owns it). Times come from the results (frame capture times), so tests script them.
/// </summary>
public sealed class StateDecider
{
    /// <summary>The state's name when no class is sure enough.</summary>
    public const string Unknown = "unknown";
    private const int None = -2, UnknownIndex = -1;

    private readonly DecisionOptions _options;
    private string[] _labels = [];
    private float[] _enter = [];
    private int _state = None, _pending = None, _pendingCount;
    private DateTimeOffset _since;

    public StateDecider(DecisionOptions options, IReadOnlyList<string> labels)
    {
        _options = options;
        Bind(labels);
    }

    /// <summary>The current state (null before the first decision).</summary>
    public string? State => Name(_state);
    /// <summary>When the current state began.</summary>
    public DateTimeOffset Since => _since;
    /// <summary>What the last result said on its own (a class, <c>unknown</c>), before the rules for changing state.</summary>
    public string? LastDecision { get; private set; }
    /// <summary>State changes so far.</summary>
    public long Changes { get; private set; }

    /// <summary>
    /// Takes the labels of a (new) model. The state survives when its class is still there (a model update with the
    /// same labels changes nothing); otherwise it starts again undecided.
    /// </summary>
    public void Bind(IReadOnlyList<string> labels)
    {
        var old = _state >= 0 ? _labels[_state] : null;
        _labels = [.. labels];
        _enter = new float[_labels.Length];
        for (var i = 0; i < _labels.Length; i++)
        {
            _enter[i] = _options.MinScore;
            foreach (var c in _options.Classes)
                if (c.Label == _labels[i]) _enter[i] = c.MinScore;
        }
        _pending = None;
        _pendingCount = 0;
        if (old is not null)
        {
            // A class the new model does not have is no longer a state it can be in: unknown (the next change says from what).
            var index = Array.IndexOf(_labels, old);
            _state = index < 0 ? UnknownIndex : index;
        }
        LastDecision = null;
    }

    /// <summary>What <paramref name="scores"/> say alone: the class index, or -1 for unknown.</summary>
    public int Decide(ReadOnlySpan<float> scores)
    {
        if (scores.Length == 0) return UnknownIndex;
        int best = 0, second = -1;
        for (var i = 1; i < scores.Length; i++)
        {
            if (scores[i] > scores[best]) { second = best; best = i; }
            else if (second < 0 || scores[i] > scores[second]) second = i;
        }
        var margin = second < 0 ? scores[best] : scores[best] - scores[second];
        return scores[best] < _enter[best] || margin < _options.MinMargin ? UnknownIndex : best;
    }

    /// <summary>Takes one result's scores (softmax probabilities, in the model's class order) at <paramref name="time"/>.</summary>
    public StateChange? Update(ReadOnlySpan<float> scores, DateTimeOffset time)
    {
        if (scores.Length != _labels.Length) throw new ArgumentException($"{scores.Length} scores for {_labels.Length} classes", nameof(scores));
        var decided = Decide(scores);
        LastDecision = Name(decided);
        var candidate = decided;
        // Hysteresis: a class state holds while its own score stays at LeaveScore or more, unless another class is sure
        // enough on its own (its threshold and the margin): a state is not kept against a confident answer.
        if (_options.LeaveScore is { } leave && _state >= 0 && decided < 0 && scores[_state] >= leave) candidate = _state;
        // A clock stepped back (NTP) must not freeze the state until it catches up.
        if (time < _since) _since = time;

        if (candidate == _state)
        {
            _pending = None;
            _pendingCount = 0;
            return null;
        }
        if (candidate == _pending) _pendingCount++;
        else (_pending, _pendingCount) = (candidate, 1);
        if (_pendingCount < Math.Max(1, _options.Consecutive)) return null;
        if (_state != None && (time - _since).TotalMilliseconds < _options.MinStateMs) return null; // stays pending, counted

        var from = Name(_state);
        _state = candidate;
        _since = time;
        _pending = None;
        _pendingCount = 0;
        Changes++;
        return new StateChange(from, Name(candidate)!, candidate >= 0 ? scores[candidate] : Max(scores), time);
    }

    private string? Name(int index) => index switch
    {
        None => null,
        UnknownIndex => Unknown,
        _ => _labels[index],
    };

    private static float Max(ReadOnlySpan<float> scores)
    {
        var m = 0f;
        foreach (var s in scores) m = Math.Max(m, s);
        return m;
    }
}
