using System.Diagnostics;
using Edge.Core.Imaging;
using Edge.Core.Inference;
using Edge.Daemon.Regions;

namespace Edge.Daemon.Pipeline;

/// <summary>
/// The classify stage: decodes a frame once (at the JPEG DCT scale its smallest region needs), crops every region
/// from it without copying, and runs them through the model together, as many per call as its batch allows. Each
/// region keeps its scores; deciding is the next stage. Times each step. Allocates nothing per frame.
/// </summary>
internal sealed class RegionClassifier
{
    private readonly RegionTrack[] _regions;
    private ScaleHint _decodeHint;

    public RegionClassifier(RegionTrack[] regions, ModelDescriptor model)
    {
        _regions = regions;
        Rebind(model);
    }

    /// <summary>Decode, preprocess, infer and post-process times of each classification.</summary>
    public LatencyWindow DecodeTimes { get; } = new();
    public LatencyWindow PreprocessTimes { get; } = new();
    public LatencyWindow InferTimes { get; } = new();
    public LatencyWindow PostTimes { get; } = new();

    /// <summary>Another model (another input size) needs another decode scale.</summary>
    public void Rebind(ModelDescriptor model) => _decodeHint = Region.DecodeHint([.. _regions.Select(r => r.Region)], model.Preprocessing);

    /// <summary>Classifies every region of <paramref name="jpeg"/>; returns the milliseconds from decode to the last scores.</summary>
    /// <exception cref="ImageDecodeException">The frame does not decode.</exception>
    /// <exception cref="InferenceException">The model failed.</exception>
    public double Classify(Classifier classifier, ReadOnlySpan<byte> jpeg)
    {
        var t0 = Stopwatch.GetTimestamp();
        classifier.Decode(jpeg, _decodeHint);
        var t1 = Stopwatch.GetTimestamp();
        long preprocess = 0, infer = 0;
        var image = classifier.Image;
        for (var start = 0; start < _regions.Length; start += classifier.MaxBatch)
        {
            var count = Math.Min(classifier.MaxBatch, _regions.Length - start);
            var p0 = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++) classifier.Preprocess(_regions[start + i].Region.Crop(image), i);
            var p1 = Stopwatch.GetTimestamp();
            classifier.Infer(count);
            classifier.Postprocess(count);
            var p2 = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++) _regions[start + i].Keep(classifier, i);
            preprocess += p1 - p0;
            infer += p2 - p1;
        }
        var t2 = Stopwatch.GetTimestamp();
        DecodeTimes.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
        PreprocessTimes.Add(Stopwatch.GetElapsedTime(0, preprocess).TotalMilliseconds);
        InferTimes.Add(Stopwatch.GetElapsedTime(0, infer).TotalMilliseconds);
        PostTimes.Add(Stopwatch.GetElapsedTime(t1 + preprocess + infer, t2).TotalMilliseconds);
        return Stopwatch.GetElapsedTime(t0, t2).TotalMilliseconds;
    }
}
