using System.Diagnostics;
using System.Threading.Channels;

namespace Edge.ModelPrep.Data;

/// <summary>
/// Produces batches on background threads while the training step runs: images are copied from the
/// cache, augmented and normalised in parallel, at most <c>prefetch</c> batches ahead. Every random
/// choice (order, augmentation) derives from (seed, epoch, index), so runs repeat exactly.
/// </summary>
public sealed class BatchLoader
{
    private readonly TensorImageSet _set;
    private readonly int[] _indices;
    private readonly AugmentationOptions _augment;
    private readonly float[] _mean, _std;
    private readonly int _seed, _workers, _prefetch;
    private readonly bool _shuffle;
    private readonly Balancing _balancing;
    private long _waitTicks, _totalTicks;

    public BatchLoader(TensorImageSet set, int[] indices, int batchSize, AugmentationOptions augment, float[] mean, float[] std,
        int seed, bool shuffle, Balancing balancing = Balancing.None, int workers = 1, int prefetch = 3)
    {
        if (indices.Length == 0) throw new ArgumentException("no images to load");
        (_set, _indices, BatchSize, _augment, _mean, _std, _seed, _shuffle, _balancing, _workers, _prefetch) =
            (set, indices, batchSize, augment, mean, std, seed, shuffle, balancing, Math.Max(1, workers), Math.Max(1, prefetch));
    }

    public int BatchSize { get; }
    public int BatchesPerEpoch => (_indices.Length + BatchSize - 1) / BatchSize;
    public int Images => _indices.Length;

    /// <summary>Fraction of the consumer's time spent waiting for a batch, over everything loaded so far.</summary>
    public double WaitFraction => _totalTicks == 0 ? 0 : (double)_waitTicks / _totalTicks;

    /// <summary>Stopwatch ticks spent waiting for batches and in total, for per-epoch fractions.</summary>
    public (long Wait, long Total) Ticks => (_waitTicks, _totalTicks);

    /// <summary>The sample order of an epoch (class-balanced sampling draws with replacement, weight 1/class size).</summary>
    public int[] Order(int epoch)
    {
        var order = (int[])_indices.Clone();
        var rng = new Random(Augmenter.SampleSeed(_seed, epoch, -1));
        if (_balancing == Balancing.Sampler)
        {
            var counts = new int[_set.Classes.Count];
            foreach (var i in _indices) counts[_set.Label(i)]++;
            var cumulative = new double[_indices.Length];
            double total = 0;
            for (var k = 0; k < _indices.Length; k++) cumulative[k] = total += 1.0 / counts[_set.Label(_indices[k])];
            for (var k = 0; k < order.Length; k++)
            {
                var pos = Array.BinarySearch(cumulative, rng.NextDouble() * total);
                order[k] = _indices[Math.Min(pos < 0 ? ~pos : pos, _indices.Length - 1)];
            }
        }
        else if (_shuffle)
        {
            rng.Shuffle(order);
        }
        return order;
    }

    /// <summary>The batches of one epoch, in order; the previous batch's arrays are reused once the next is requested.</summary>
    public IEnumerable<Batch> Epoch(int epoch, CancellationToken cancel = default)
    {
        var order = Order(epoch);
        var length = _set.ImageLength;
        var free = Channel.CreateUnbounded<Batch>();
        for (var i = 0; i < _prefetch + 1; i++) free.Writer.TryWrite(new Batch(BatchSize, length));
        var ready = Channel.CreateBounded<Batch>(new BoundedChannelOptions(_prefetch) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var producer = Task.Run(() => Produce(epoch, order, free.Reader, ready.Writer, stop.Token), stop.Token);
        Batch? previous = null;
        var total = Stopwatch.StartNew();
        try
        {
            while (true)
            {
                if (previous is not null) free.Writer.TryWrite(previous);
                var wait = Stopwatch.StartNew();
                Batch? next = null;
                try
                {
                    if (!ready.Reader.WaitToReadAsync(stop.Token).AsTask().GetAwaiter().GetResult()) break;
                    ready.Reader.TryRead(out next);
                }
                finally
                {
                    _waitTicks += wait.ElapsedTicks;
                }
                if (next is null) break;
                previous = next;
                yield return next;
            }
            producer.GetAwaiter().GetResult(); // surfaces a producer failure
        }
        finally
        {
            _totalTicks += total.ElapsedTicks;
            stop.Cancel();
            try { producer.Wait(); } catch (AggregateException) { } // cancelled or already reported
        }
    }

    private async Task Produce(int epoch, int[] order, ChannelReader<Batch> free, ChannelWriter<Batch> ready, CancellationToken cancel)
    {
        try
        {
            var length = _set.ImageLength;
            var plane = _set.Size * _set.Size;
            for (var start = 0; start < order.Length; start += BatchSize)
            {
                var batch = await free.ReadAsync(cancel).ConfigureAwait(false);
                var n = Math.Min(BatchSize, order.Length - start);
                batch.Count = n;
                Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = _workers, CancellationToken = cancel },
                    () => new float[length],
                    (k, _, scratch) =>
                    {
                        var index = order[start + k];
                        var dst = batch.Images.AsSpan(k * length, length);
                        batch.Labels[k] = _set.Label(index);
                        batch.Indices[k] = index;
                        if (_augment.IsNone)
                        {
                            _set.CopyImage(index, dst);
                            Normalize(dst, plane);
                        }
                        else
                        {
                            var rng = new Random(Augmenter.SampleSeed(_seed, epoch, index ^ (start + k) << 1));
                            _set.CopyImage(index, scratch);
                            Augmenter.Apply(_augment, rng, scratch, dst, _set.Channels, _set.Size);
                            Normalize(dst, plane);
                            Augmenter.Erase(_augment, rng, dst, _set.Channels, _set.Size);
                        }
                        return scratch;
                    },
                    _ => { });
                await ready.WriteAsync(batch, cancel).ConfigureAwait(false);
            }
            ready.TryComplete();
        }
        catch (OperationCanceledException)
        {
            ready.TryComplete();
        }
        catch (Exception e)
        {
            ready.TryComplete(e);
            throw;
        }
    }

    private void Normalize(Span<float> image, int plane)
    {
        for (var c = 0; c < _mean.Length; c++)
        {
            var m = _mean[c];
            var inv = 1f / _std[c];
            foreach (ref var x in image.Slice(c * plane, plane)) x = (x - m) * inv;
        }
    }
}
