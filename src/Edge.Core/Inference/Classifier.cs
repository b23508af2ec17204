using Edge.Core.Imaging;
using Edge.Onnx.Metadata;
using Edge.Onnx.Model;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using OrtSessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;

namespace Edge.Core.Inference;

/// <summary>
/// An image classifier over an ONNX Runtime session. Input and output tensors live in pinned
/// arrays allocated once, bound to the session through <see cref="OrtIoBinding"/>, so that after
/// the first call of each batch size decode → preprocess → infer → top-k allocates nothing.
/// Not thread-safe: give each pipeline its own.
/// </summary>
public sealed partial class Classifier : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new() { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
    private readonly float[] _input;   // MaxBatch images, pinned
    private readonly float[] _output;  // MaxBatch x classes, pinned
    private readonly float[] _scores;  // probabilities (softmax of _output when it holds logits)
    private readonly Binding?[] _bindings;
    private readonly ImageDecoder _decoder;
    private readonly PixelBuffer _pixels = new();
    private readonly Preprocessor _preprocessor;
    private readonly int _imageLength;
    private bool _disposed;

    private sealed class Binding(OrtValue input, OrtValue output, OrtIoBinding io) : IDisposable
    {
        public readonly OrtIoBinding Io = io;
        public void Dispose()
        {
            Io.Dispose();
            input.Dispose();
            output.Dispose();
        }
    }

    private Classifier(InferenceSession session, ModelDescriptor model, ClassifierOptions options, IReadOnlyList<string> providers)
    {
        _session = session;
        Model = model;
        Options = options;
        ExecutionProviders = providers;
        Int8Warning = providers[0] == "cpu" ? Int8Kernels.Warning(model.Path, model.Int8Weights, Int8Kernels.SaturateEightBitCodes) : null;
        _imageLength = model.Preprocessing.Channels * model.Preprocessing.Width * model.Preprocessing.Height;
        // A batch never takes more input memory than a model may (large inputs get smaller batches).
        MaxBatch = model.FixedBatch ?? (int)Math.Clamp(ModelDescriber.MaxInputBytes / (4L * _imageLength), 1, options.MaxBatch);
        _input = GC.AllocateArray<float>(MaxBatch * _imageLength, pinned: true);
        _output = GC.AllocateArray<float>(MaxBatch * model.ClassCount, pinned: true);
        _scores = model.Output == OutputKind.Probabilities ? _output : new float[MaxBatch * model.ClassCount];
        _bindings = new Binding?[MaxBatch + 1];
        _decoder = new ImageDecoder(new ImageDecoderOptions { MaxPixels = options.MaxImagePixels, ScaledJpegDecode = options.ScaledJpegDecode, ScanCheck = options.JpegScanCheck });
        _preprocessor = new Preprocessor(model.Preprocessing, model.Layout);
    }

    public ModelDescriptor Model { get; }
    public ClassifierOptions Options { get; }
    /// <summary>Execution providers actually in use, best first (always ends with CPU).</summary>
    public IReadOnlyList<string> ExecutionProviders { get; }
    public int MaxBatch { get; }
    public int ClassCount => Model.ClassCount;
    public Preprocessor Preprocessor => _preprocessor;
    /// <summary>The session itself, for comparisons against a bare ONNX Runtime loop.</summary>
    public InferenceSession Session => _session;

    /// <summary>Loads, checks and prepares a model.</summary>
    /// <exception cref="ModelLoadException">The model cannot be used; the message says why.</exception>
    public static Classifier Load(string path, ClassifierOptions? options = null, ModelSettings? overrides = null,
        ILogger? logger = null, string overridesSource = "command line")
    {
        options ??= new ClassifierOptions();
        options.Validate();
        logger ??= NullLogger.Instance;
        if (!File.Exists(path)) throw new ModelLoadException($"model file '{path}' does not exist");
        ModelDescriptor model;
        byte[] checkedBytes;
        try
        {
            var proto = OnnxModelFile.Parse(OnnxModelFile.ReadBytes(path), path);
            model = ModelDescriber.Describe(proto, path, overrides, overridesSource);
            // ONNX Runtime gets exactly what was parsed and checked (unknown fields dropped), not the file.
            checkedBytes = proto.ToByteArray();
        }
        catch (OnnxFormatException e)
        {
            throw new ModelLoadException(e.Message, e);
        }
        // Colour order and resize mode have harmless defaults; labels and normalisation decide whether the answers mean anything.
        if (model.Defaulted.Any(f => f is "labels" or "scale" or "mean" or "std"))
            logger.LogWarning("Model '{Path}' does not state {Fields}; using defaults: {Spec}, labels {Labels} (see README, Model metadata)",
                path, string.Join(", ", model.Defaulted), model.Preprocessing, model.LabelSource == "default" ? "class_0.." : "given");

        // A model's own intermediates are not bounded by its file size (ConstantOfShape of 500 million floats
        // is a 600-byte model), at session creation (constant folding) or at run time: the peak memory of
        // loading plus one test run is measured, and a model over the limit refused.
        var measure = options.MaxInferenceBytes > 0 && Diagnostics.ProcessMemory.ResetPeak();
        var before = measure ? Diagnostics.ProcessMemory.PeakMib() : 0;
        var sessionOptions = OrtSessions.Options(options.EffectiveIntraOpThreads, options.AllowSpinning, options.OptimizedModelPath);
        var providers = AppendProviders(sessionOptions, options.ExecutionProviders, logger);

        InferenceSession session;
        try
        {
            session = new InferenceSession(checkedBytes, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelLoadException($"ONNX Runtime refused '{path}': {OneLine(e.Message)}", e);
        }
        finally
        {
            sessionOptions.Dispose();
        }
        var classifier = new Classifier(session, model, options, providers);
        try
        {
            classifier.SmokeTest();
            // The weights themselves (and ONNX Runtime's copies of them while it optimises) are allowed for.
            var used = measure ? Diagnostics.ProcessMemory.PeakMib() - before - 4.0 * checkedBytes.Length / (1024 * 1024) : 0;
            if (used * 1024 * 1024 > options.MaxInferenceBytes)
                throw new ModelLoadException(
                    $"'{path}' took {used:0} MiB beyond its weights to load and classify one test input (batch {classifier.MaxBatch}); the limit is {options.MaxInferenceBytes / (1024 * 1024)} MiB");
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
        // Said once the model is accepted, and only where ONNX Runtime's CPU kernels run it.
        if (classifier.Int8Warning is { } saturation) logger.LogWarning("{Warning}", saturation);
        return classifier;
    }

    /// <summary>
    /// Why this model's answers here may differ from its measured accuracy (8-bit weight codes on an x86 CPU
    /// without VNNI, run by the CPU provider), or null.
    /// </summary>
    public string? Int8Warning { get; }

    /// <summary>
    /// Runs the model once on a neutral input (the mean colour) at batch 1 and at the largest batch, so
    /// that a model which cannot run (its output differs from what it declares, a Reshape that fits no
    /// input) or which produces NaN or infinite scores is refused at load, not on the first frame.
    /// </summary>
    private void SmokeTest()
    {
        foreach (var batch in MaxBatch > 1 && Model.FixedBatch is null ? new[] { 1, MaxBatch } : [MaxBatch])
        {
            Array.Clear(_input, 0, batch * _imageLength);
            try
            {
                Infer(batch);
                Postprocess(batch);
            }
            catch (InferenceException e)
            {
                throw new ModelLoadException(e.NonFinite
                    ? $"'{Model.Path}' produces non-finite scores (NaN or infinity) on a test input; its weights are likely corrupt"
                    : $"'{Model.Path}' cannot run{(batch > 1 ? $" at batch {batch}" : "")}: {e.Message}", e);
            }
        }
    }

    private static List<string> AppendProviders(OrtSessionOptions so, IReadOnlyList<string> requested, ILogger logger)
    {
        var used = new List<string>();
        if (requested.Count == 0)
        {
            used.Add("cpu");
            return used;
        }
        var available = OrtEnv.Instance().GetAvailableProviders();
        foreach (var name in requested)
        {
            var key = name.Trim().ToLowerInvariant();
            if (key is "cpu" or "") continue;
            var ortName = key switch
            {
                "cuda" => "CUDAExecutionProvider",
                "tensorrt" or "trt" => "TensorrtExecutionProvider",
                _ => name.EndsWith("ExecutionProvider", StringComparison.Ordinal) ? name : name + "ExecutionProvider",
            };
            if (!available.Contains(ortName, StringComparer.OrdinalIgnoreCase))
            {
                logger.LogWarning("Execution provider '{Name}' is not in this ONNX Runtime build (it has {Available}); running on CPU",
                    name, string.Join(", ", available));
                continue;
            }
            try
            {
                switch (key)
                {
                    case "cuda": so.AppendExecutionProvider_CUDA(0); break;
                    case "tensorrt" or "trt": so.AppendExecutionProvider_Tensorrt(0); break;
                    default: so.AppendExecutionProvider(ortName.Replace("ExecutionProvider", "", StringComparison.Ordinal), new Dictionary<string, string>()); break;
                }
                used.Add(key);
            }
            catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                logger.LogWarning("Execution provider '{Name}' could not start ({Reason}); running on CPU", name, e.Message);
            }
        }
        used.Add("cpu");
        return used;
    }

    /// <summary>The tensor memory of image <paramref name="slot"/> (0 ≤ slot &lt; MaxBatch), to fill directly.</summary>
    public Span<float> InputSlot(int slot)
    {
        CheckSlot(slot);
        return _input.AsSpan(slot * _imageLength, _imageLength);
    }

    /// <summary>
    /// Frees decode buffers larger than <paramref name="maxBytes"/>: after an occasional huge image (an
    /// upload) the memory goes back instead of staying resident; a stream of frames of one size keeps its buffers.
    /// </summary>
    public void TrimBuffers(long maxBytes)
    {
        _pixels.Trim(maxBytes);
        _decoder.Trim(maxBytes);
    }

    /// <summary>Decodes an encoded image into the classifier's pixel buffer (stage 1).</summary>
    public DecodeInfo Decode(ReadOnlySpan<byte> encoded) =>
        _decoder.Decode(encoded, _pixels, ScaleHint.For(Model.Preprocessing));

    /// <summary>
    /// Decodes keeping at least the resolution <paramref name="hint"/> asks for: regions of a frame need more of the
    /// frame's pixels than the whole frame would (JPEG DCT scaling is chosen for the smallest region).
    /// </summary>
    public DecodeInfo Decode(ReadOnlySpan<byte> encoded, ScaleHint hint) => _decoder.Decode(encoded, _pixels, hint);

    /// <summary>The last decoded image (valid until the next decode).</summary>
    public ImageView Image => _pixels.View;

    /// <summary>Resizes and normalises the last decoded image into <paramref name="slot"/> (stage 2).</summary>
    public void Preprocess(int slot) => _preprocessor.Run(_pixels.View, InputSlot(slot));

    /// <summary>Resizes and normalises <paramref name="image"/> into <paramref name="slot"/>.</summary>
    public void Preprocess(ImageView image, int slot) => _preprocessor.Run(image, InputSlot(slot));

    /// <summary>Decode and preprocess in one call.</summary>
    public DecodeInfo LoadImage(ReadOnlySpan<byte> encoded, int slot = 0)
    {
        var info = Decode(encoded);
        Preprocess(slot);
        return info;
    }

    /// <summary>Runs the model on the first <paramref name="batch"/> slots (stage 3).</summary>
    public void Infer(int batch = 1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (batch < 1 || batch > MaxBatch) throw new ArgumentOutOfRangeException(nameof(batch), $"batch must be 1..{MaxBatch}");
        var runBatch = Model.FixedBatch ?? batch;
        var binding = _bindings[runBatch] ??= Bind(runBatch);
        try
        {
            _session.RunWithBinding(_runOptions, binding.Io);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InferenceException($"ONNX Runtime failed: {OneLine(e.Message)}", e);
        }
    }

    /// <summary>
    /// ONNX Runtime's message in one line a user can read: the failing node and the reason, without the
    /// error-code prefix, source paths and C++ signatures, at most 300 characters.
    /// </summary>
    // Source-generated, like every regular expression edged runs: the AOT binary then carries no regex parser or interpreter.
    [System.Text.RegularExpressions.GeneratedRegex(@"running (\w+) node\. Name:'([^']*)'")]
    private static partial System.Text.RegularExpressions.Regex FailingNode();

    [System.Text.RegularExpressions.GeneratedRegex(@"\[ONNXRuntimeError\] : \d+ : \w+ : (.*)$")]
    private static partial System.Text.RegularExpressions.Regex RuntimeErrorReason();

    public static string OneLine(string message)
    {
        var m = message.ReplaceLineEndings(" ").Trim();
        var node = FailingNode().Match(m);
        var reason = RuntimeErrorReason().Match(m);
        if (reason.Success) m = reason.Groups[1].Value;
        else if (m.StartsWith("[ErrorCode:", StringComparison.Ordinal) && m.IndexOf("] ", StringComparison.Ordinal) is var i and > 0) m = m[(i + 2)..];
        // ONNX Runtime's advice to API users is not for ours.
        var advice = m.IndexOf(" When calling Run()", StringComparison.Ordinal);
        if (advice > 0) m = m[..advice];
        if (node.Success) m = $"node '{node.Groups[2].Value}' ({node.Groups[1].Value}): {m}";
        return m.Length > 300 ? m[..300] + "..." : m;
    }

    /// <exception cref="InferenceException">
    /// A score is NaN or infinite, or a model that says it outputs probabilities gives values outside
    /// [0, 1] (checked here, so no caller ever ranks, averages, stores or serialises one).
    /// </exception>
    public void Postprocess(int batch = 1)
    {
        var k = Model.ClassCount;
        if (Model.Output == OutputKind.Logits)
            for (var i = 0; i < batch; i++)
                Softmax(_output.AsSpan(i * k, k), _scores.AsSpan(i * k, k));
        for (var i = 0; i < batch; i++)
        {
            if (AllValid(_scores.AsSpan(i * k, k))) continue;
            throw new InferenceException(
                $"the model produced {(AllFinite(_scores.AsSpan(i * k, k)) ? "probabilities outside 0..1" : "non-finite scores (NaN or infinity)")}{(batch > 1 ? $" for image {i + 1} of the batch" : "")}")
            { NonFinite = true };
        }
    }

    /// <summary>Whether every score of slot <paramref name="slot"/> is a usable probability (after <see cref="Postprocess"/> found some were not).</summary>
    public bool ScoresFinite(int slot) => AllValid(Scores(slot));

    /// <summary>Finite, and within [0, 1] (with float rounding) as probabilities are.</summary>
    private static bool AllValid(ReadOnlySpan<float> values)
    {
        foreach (var v in values)
            if (!(v >= -1e-4f && v <= 1.0001f)) return false;
        return true;
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (var v in values)
            if (!float.IsFinite(v)) return false;
        return true;
    }

    /// <summary>Infer then postprocess.</summary>
    public void Run(int batch = 1)
    {
        Infer(batch);
        Postprocess(batch);
    }

    /// <summary>Raw model output of a slot (logits or probabilities, as the model gives them).</summary>
    public ReadOnlySpan<float> RawOutput(int slot = 0)
    {
        CheckSlot(slot);
        return _output.AsSpan(slot * Model.ClassCount, Model.ClassCount);
    }

    /// <summary>Class probabilities of a slot after <see cref="Run"/>.</summary>
    public ReadOnlySpan<float> Scores(int slot = 0)
    {
        CheckSlot(slot);
        return _scores.AsSpan(slot * Model.ClassCount, Model.ClassCount);
    }

    /// <summary>Writes the best <c>destination.Length</c> classes of a slot, best first; returns how many.</summary>
    public int TopK(int slot, Span<Prediction> destination) => TopK(Scores(slot), destination);

    /// <summary>The best classes of any score vector of this model (e.g. scores averaged over frames).</summary>
    public int TopK(ReadOnlySpan<float> scores, Span<Prediction> destination)
    {
        var k = Math.Min(destination.Length, scores.Length);
        var count = 0;
        for (var c = 0; c < scores.Length; c++)
        {
            var s = scores[c];
            if (count == k && !(s > destination[k - 1].Score)) continue;
            var pos = count < k ? count++ : k - 1;
            // Insertion keeps ties in class order (a stable top-k).
            while (pos > 0 && s > destination[pos - 1].Score)
            {
                destination[pos] = destination[pos - 1];
                pos--;
            }
            destination[pos] = new Prediction(c, Model.Labels[c], s);
        }
        return count;
    }

    /// <summary>Classifies one encoded image (allocates the result; the daemon's loop uses the stages).</summary>
    public Classification Classify(ReadOnlySpan<byte> encoded, int top = 5)
    {
        var info = LoadImage(encoded);
        Run();
        var predictions = new Prediction[Math.Min(Math.Max(top, 1), ClassCount)];
        var n = TopK(0, predictions);
        return new Classification(predictions[..n], info);
    }

    /// <summary>Numerically stable softmax.</summary>
    public static void Softmax(ReadOnlySpan<float> logits, Span<float> probabilities)
    {
        var max = float.NegativeInfinity;
        foreach (var v in logits) if (v > max) max = v;
        var sum = 0f;
        for (var i = 0; i < logits.Length; i++)
        {
            var e = MathF.Exp(logits[i] - max);
            probabilities[i] = e;
            sum += e;
        }
        var inv = 1f / sum;
        for (var i = 0; i < logits.Length; i++) probabilities[i] *= inv;
    }

    private Binding Bind(int batch)
    {
        var inputShape = Model.InputShape(batch).Select(d => (long)d).ToArray();
        long[] outputShape = [batch, .. Model.OutputTail.Select(d => (long)d)];
        var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance,
            new Memory<float>(_input, 0, batch * _imageLength), inputShape);
        var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance,
            new Memory<float>(_output, 0, batch * Model.ClassCount), outputShape);
        var io = _session.CreateIoBinding();
        io.BindInput(Model.InputName, input);
        io.BindOutput(Model.OutputName, output);
        return new Binding(input, output, io);
    }

    private void CheckSlot(int slot)
    {
        if ((uint)slot >= (uint)MaxBatch) throw new ArgumentOutOfRangeException(nameof(slot), $"slot must be 0..{MaxBatch - 1}");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var b in _bindings) b?.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
        _decoder.Dispose();
        _pixels.Dispose();
    }
}
