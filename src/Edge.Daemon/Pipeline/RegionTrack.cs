using Edge.Core.Inference;
using Edge.Daemon.Decisions;
using Edge.Daemon.Regions;
using Edge.Daemon.Storage;

namespace Edge.Daemon.Pipeline;

/// <summary>One region's latest result and state, as the status API and page show them.</summary>
public sealed record RegionStatus(string Name, double X, double Y, double Width, double Height, string? State, DateTimeOffset? StateSince,
    string? Decision, long Classified, long StateChanges, LatestResult? Latest);

/// <summary>
/// What the pipeline keeps per region between frames: its score smoothing, its top-k buffers, its latest result (for
/// readers, under the pipeline's lock) and its <see cref="StateDecider"/>. Buffers are sized by the model's class
/// count and rebuilt only when a model with another count comes in.
/// </summary>
internal sealed class RegionTrack
{
    private readonly int _smoothing;
    private float[] _history = [];
    private float[] _smoothed = [];
    private int _historyCount, _historyNext;

    public RegionTrack(Region region, DecisionOptions decision, int smoothing, IReadOnlyList<string> labels, int topK)
    {
        Region = region;
        _smoothing = Math.Max(1, smoothing);
        Decider = new StateDecider(decision, labels);
        Bind(labels, topK);
    }

    public Region Region { get; }
    public StateDecider Decider { get; }
    public Prediction[] Top = [];
    public StoredPrediction[] TopStored = [];
    public int Count;
    /// <summary>The scores ranked (smoothed when asked), valid until the next frame.</summary>
    public ReadOnlySpan<float> Scores => _smoothing > 1 ? _smoothed : _lastScores;
    private float[] _lastScores = [];
    public StateChange? Change;
    public long Classified;

    // The latest result, read by HTTP under the pipeline's lock.
    public StoredPrediction[] LatestTop = [];
    public int LatestCount = -1;
    public long LatestSequence;
    public DateTimeOffset LatestTime;
    public string LatestTrigger = "";
    public double LatestLatency;

    /// <summary>Sizes the buffers for a model's classes; smoothing starts again (another model's scores are not comparable).</summary>
    public void Bind(IReadOnlyList<string> labels, int topK)
    {
        var classes = labels.Count;
        var k = Math.Min(topK, classes);
        if (Top.Length != k)
        {
            Top = new Prediction[k];
            TopStored = new StoredPrediction[k];
            LatestTop = new StoredPrediction[k];
            LatestCount = -1;
        }
        if (_smoothed.Length != classes)
        {
            _history = new float[_smoothing * classes];
            _smoothed = new float[classes];
            _lastScores = new float[classes];
        }
        _historyCount = _historyNext = 0;
        Decider.Bind(labels);
    }

    /// <summary>Keeps this frame's scores (stage 1: every region is inferred before any is decided).</summary>
    public void Keep(Classifier classifier, int slot) => classifier.Scores(slot).CopyTo(_lastScores);

    /// <summary>
    /// Stage 2, once every region of the frame has scores: smooths, ranks, and decides the state (allocating only when the
    /// state changes). A frame that failed part-way decides nothing, so no region's state moves without its event.
    /// </summary>
    public void Decide(Classifier classifier, DateTimeOffset time)
    {
        var ranked = Smooth(_lastScores);
        Count = classifier.TopK(ranked, Top);
        for (var i = 0; i < Count; i++) TopStored[i] = new StoredPrediction(Top[i].Label, Top[i].ClassIndex, Top[i].Score);
        Change = Decider.Update(ranked, time);
        Classified++;
    }

    /// <summary>The mean of the last N score vectors (N = smoothing), or the scores themselves.</summary>
    private ReadOnlySpan<float> Smooth(ReadOnlySpan<float> scores)
    {
        if (_smoothing <= 1) return scores;
        var k = scores.Length;
        scores.CopyTo(_history.AsSpan(_historyNext * k, k));
        _historyNext = (_historyNext + 1) % _smoothing;
        _historyCount = Math.Min(_historyCount + 1, _smoothing);
        Array.Clear(_smoothed);
        for (var h = 0; h < _historyCount; h++)
        {
            var row = _history.AsSpan(h * k, k);
            for (var c = 0; c < k; c++) _smoothed[c] += row[c];
        }
        var inv = 1f / _historyCount;
        for (var c = 0; c < k; c++) _smoothed[c] *= inv;
        return _smoothed;
    }

    public RegionStatus Status() => new(Region.Name, Region.X, Region.Y, Region.Width, Region.Height, Decider.State,
        Decider.State is null ? null : Decider.Since, Decider.LastDecision, Classified, Decider.Changes,
        LatestCount < 0 ? null : new LatestResult(LatestSequence, LatestTime, LatestTrigger, LatestTop[..LatestCount], LatestLatency));
}
