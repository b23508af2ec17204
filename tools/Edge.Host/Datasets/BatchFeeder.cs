using Edge.Core.Imaging;
using Edge.Core.Inference;

namespace Edge.Host.Datasets;

/// <summary>
/// Loads images of an <see cref="ImageSet"/> into model-input batches with exactly the daemon's
/// decode and preprocessing (from the model's metadata). Images that do not decode are skipped
/// and counted, with the first few reasons kept for the report.
/// </summary>
internal sealed class BatchFeeder : IDisposable
{
    private readonly ImageSet _set;
    private readonly ModelDescriptor _model;
    private readonly ImageDecoder _decoder = new();
    private readonly PixelBuffer _pixels = new();
    private readonly Preprocessor _preprocessor;

    public BatchFeeder(ImageSet set, ModelDescriptor model, int batch)
    {
        _set = set;
        _model = model;
        _preprocessor = new Preprocessor(model.Preprocessing, model.Layout);
        Batch = model.FixedBatch ?? batch;
        ImageLength = _preprocessor.TensorLength;
        Buffer = new float[Batch * ImageLength];
    }

    public int Batch { get; }
    public int ImageLength { get; }
    public float[] Buffer { get; }
    public int Skipped { get; private set; }
    public List<string> SkipReasons { get; } = [];

    /// <summary>Fills the buffer from <paramref name="indices"/> starting at <paramref name="next"/>; returns images loaded, their labels in <paramref name="labels"/>.</summary>
    public int Fill(int[] indices, ref int next, List<int>? labels = null)
    {
        var n = 0;
        labels?.Clear();
        while (n < Batch && next < indices.Length)
        {
            var index = indices[next++];
            try
            {
                _set.Load(index, _decoder, _pixels, ScaleHint.For(_model.Preprocessing));
                _preprocessor.Run(_pixels.View, Buffer.AsSpan(n * ImageLength, ImageLength));
                labels?.Add(_set.Label(index));
                n++;
            }
            catch (ImageDecodeException e)
            {
                Skipped++;
                if (SkipReasons.Count < 5) SkipReasons.Add($"{_set.Describe(index)}: {e.Message}");
            }
        }
        return n;
    }

    /// <summary>The tensor of image <paramref name="slot"/> of the last fill.</summary>
    public ReadOnlySpan<float> Image(int slot) => Buffer.AsSpan(slot * ImageLength, ImageLength);

    public long[] Shape(int count) => [.. _model.InputShape(_model.FixedBatch ?? count).Select(d => (long)d)];

    public void Dispose()
    {
        _decoder.Dispose();
        _pixels.Dispose();
    }
}
