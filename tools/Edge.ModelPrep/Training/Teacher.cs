using Edge.Core.Diagnostics;
using Edge.Core.Imaging;
using Edge.Core.Inference;
using Edge.Host.Datasets;
using Edge.ModelPrep.Data;
using Edge.ModelPrep.Evaluation;
using Edge.ModelPrep.Export;
using Edge.Onnx.Metadata;
using Edge.Onnx.Model;
using Google.Protobuf;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Training;

/// <summary>
/// The model a student learns from. Whatever it is (a run folder, a checkpoint, any ONNX classifier),
/// it runs as ONNX through Edge.Core's <see cref="Classifier"/> with its own preprocessing (its metadata's
/// size, colour order and normalisation, not the student's). Without augmentation its outputs are
/// computed once per image, from the image files; with augmentation, per batch, from the very images the
/// student sees (the student's tensor turned back into pixels). Its classes are matched to the data's by name.
/// </summary>
public sealed class Teacher : IDisposable
{
    private readonly Classifier _classifier;
    private readonly int[] _columns;   // teacher output column of each of the data's classes
    private readonly byte[] _rgba;     // one student image as pixels (for per-batch inputs)
    private float[]? _cache;           // teacher logits per data image, in the data's class order
    private readonly int _classes;

    private Teacher(Classifier classifier, IReadOnlyList<string> dataClasses, int studentSize)
    {
        _classifier = classifier;
        _columns = LabelMatcher.Map(dataClasses, classifier.Model.Labels);
        _classes = dataClasses.Count;
        _rgba = new byte[studentSize * studentSize * 4];
    }

    public string Description { get; private init; } = "";

    /// <summary>Opens a teacher: a run folder or checkpoint (exported to <c>teacher.onnx</c> in <paramref name="runFolder"/>) or an ONNX file.</summary>
    public static Teacher Open(string spec, IReadOnlyList<string> dataClasses, int studentSize, string runFolder, int threads)
    {
        string path;
        if (File.Exists(spec)) path = spec;
        else
        {
            var (net, state) = Checkpoint.Load(spec);
            using var _ = net;
            net.eval();
            var model = ModelExporter.ToOnnx(net, new ExportInfo(state.Classes, CheckpointEvaluator.Preprocessing(state), state.Data, state.ValAccuracy));
            // Inside the run's own checkpoints folder: a file the user keeps beside the run is never overwritten.
            var folder = Path.Combine(runFolder, "checkpoints");
            Directory.CreateDirectory(folder);
            path = Path.Combine(folder, "teacher.onnx");
            OnnxModelFile.Save(model, path);
        }
        var classifier = Classifier.Load(path, new ClassifierOptions { IntraOpThreads = threads, MaxBatch = 32 });
        try
        {
            return new Teacher(classifier, dataClasses, studentSize)
            {
                Description = $"{path} ({classifier.Model.Metadata.GetValueOrDefault(ModelMetadataKeys.Architecture) ?? "ONNX"}, {classifier.Model.Preprocessing})",
            };
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    /// <summary>Computes the teacher's logits for every image of the data once (no augmentation: the files themselves).</summary>
    public void Cache(ImageSet source, TensorImageSet data, IProgress<StepProgress>? progress = null)
    {
        var cache = new float[data.Count * _classes];
        using var decoder = new ImageDecoder();
        using var pixels = new PixelBuffer();
        var hint = ScaleHint.For(_classifier.Model.Preprocessing);
        var slots = new int[_classifier.MaxBatch];
        var n = 0;
        void Flush()
        {
            if (n == 0) return;
            RunInto(n, i => slots[i], cache);
            n = 0;
        }
        for (var i = 0; i < data.Count; i++)
        {
            source.Load(data.SourceIndex(i), decoder, pixels, hint);
            _classifier.Preprocess(pixels.View, n);
            slots[n++] = i;
            if (n == _classifier.MaxBatch) Flush();
            if (progress is not null && (i % 256 == 255 || i == data.Count - 1)) progress.Report(new StepProgress("teacher scores", i + 1, data.Count));
        }
        Flush();
        _cache = cache;
    }

    /// <summary>One inference of a full batch, so that ONNX Runtime's buffers exist before training's memory is planned.</summary>
    public void Warm()
    {
        var blank = new byte[4 * 16 * 16];
        for (var s = 0; s < _classifier.MaxBatch; s++)
            unsafe { fixed (byte* p = blank) _classifier.Preprocess(ImageView.FromPinned(p, 16, 16), s); }
        _classifier.Infer(_classifier.MaxBatch);
    }

    /// <summary>The teacher's logits for a batch ([count, classes], the data's class order).</summary>
    public Tensor Logits(Batch batch, PreprocessingSpec student, float[] mean, float[] std)
    {
        var result = new float[batch.Count * _classes];
        if (_cache is not null)
        {
            for (var k = 0; k < batch.Count; k++)
                _cache.AsSpan(batch.Indices[k] * _classes, _classes).CopyTo(result.AsSpan(k * _classes, _classes));
        }
        else
        {
            var length = student.Channels * student.Width * student.Height;
            var start = 0;
            while (start < batch.Count)
            {
                var n = Math.Min(_classifier.MaxBatch, batch.Count - start);
                for (var k = 0; k < n; k++) ToPixels(batch.Images.AsSpan((start + k) * length, length), student, mean, std, k);
                var offset = start;
                RunInto(n, k => offset + k, result);
                start += n;
            }
        }
        return tensor(result, [batch.Count, _classes]);
    }

    /// <summary>Runs the first <paramref name="n"/> slots and writes their logits (data class order) at rows <paramref name="row"/>(slot).</summary>
    private void RunInto(int n, Func<int, int> row, float[] destination)
    {
        _classifier.Infer(n);
        for (var s = 0; s < n; s++)
        {
            var raw = _classifier.RawOutput(s);
            var dst = destination.AsSpan(row(s) * _classes, _classes);
            // Probabilities become log-probabilities: logits up to a constant, which softmax ignores.
            var probabilities = _classifier.Model.Output == OutputKind.Probabilities;
            for (var c = 0; c < _classes; c++)
            {
                var v = raw[_columns[c]];
                dst[c] = probabilities ? MathF.Log(MathF.Max(v, 1e-12f)) : v;
            }
        }
    }

    /// <summary>A student image (normalised tensor) back to pixels, then preprocessed the teacher's way into slot <paramref name="slot"/>.</summary>
    private unsafe void ToPixels(ReadOnlySpan<float> image, PreprocessingSpec student, float[] mean, float[] std, int slot)
    {
        var plane = student.Width * student.Height;
        var c = student.Channels;
        for (var p = 0; p < plane; p++)
        {
            for (var ch = 0; ch < 3; ch++)
            {
                // Gray: every channel from the one plane; BGR: planes in reverse order.
                var src = c == 1 ? 0 : student.Color == ColorOrder.Bgr ? 2 - ch : ch;
                var v01 = image[src * plane + p] * std[src] + mean[src];
                _rgba[4 * p + ch] = (byte)Math.Clamp((int)MathF.Round(v01 * 255f), 0, 255);
            }
            _rgba[4 * p + 3] = 255;
        }
        fixed (byte* data = _rgba)
            _classifier.Preprocess(ImageView.FromPinned(data, student.Width, student.Height), slot);
    }

    public void Dispose() => _classifier.Dispose();
}

/// <summary>Knowledge distillation's loss (Hinton et al. 2015).</summary>
public static class Distillation
{
    /// <summary>
    /// α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 − α)·CE(student, labels): the soft targets'
    /// gradients scale as 1/T², hence the T². With T = 1 and α = 0 it is the plain cross-entropy.
    /// </summary>
    public static Tensor Loss(Tensor student, Tensor teacher, Tensor labels, double temperature, double alpha, double labelSmoothing = 0)
    {
        var hard = nn.functional.cross_entropy(student, labels, label_smoothing: labelSmoothing);
        if (alpha == 0) return hard;
        var logPs = nn.functional.log_softmax(student / temperature, 1);
        var logPt = nn.functional.log_softmax(teacher / temperature, 1);
        var soft = (logPt.exp() * (logPt - logPs)).sum(1).mean();
        return soft * (alpha * temperature * temperature) + hard * (1 - alpha);
    }
}
