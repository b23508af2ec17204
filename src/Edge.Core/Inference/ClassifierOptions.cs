namespace Edge.Core.Inference;

/// <summary>How a <see cref="Classifier"/> runs its model.</summary>
public sealed record ClassifierOptions
{
    /// <summary>Most intra-op threads accepted: more than any device has cores, few enough never to exhaust a machine.</summary>
    public const int MaxThreads = 64;

    /// <summary>Threads for one inference; 0 = up to 4, never more than the machine's cores.</summary>
    public int IntraOpThreads { get; init; }
    /// <summary>Busy-waiting ONNX Runtime threads lower latency on an idle machine but steal the cores that
    /// capture and HTTP need on a device, and double latency on a busy one: off unless asked for.</summary>
    public bool AllowSpinning { get; init; }
    /// <summary>Most images per <see cref="Classifier.Run"/> (for models with a symbolic batch dimension).</summary>
    public int MaxBatch { get; init; } = 8;
    /// <summary>Execution providers to try in order before CPU: "cuda", "tensorrt", or any name ONNX Runtime knows.</summary>
    public IReadOnlyList<string> ExecutionProviders { get; init; } = [];
    /// <summary>Where ONNX Runtime writes the graph after its optimisations (for checking fusion), or null.</summary>
    public string? OptimizedModelPath { get; init; }
    /// <summary>Largest image accepted, in pixels.</summary>
    public long MaxImagePixels { get; init; } = 40_000_000;
    /// <summary>
    /// Most memory one inference may take, measured on the load-time test run (the process's peak
    /// resident memory before and after); a model over it is refused. 0 = not checked.
    /// </summary>
    public long MaxInferenceBytes { get; init; } = 1L << 30;
    /// <summary>When JPEG scans are walked to refuse cut-off frames (camera frames: only when grey-filled, at almost no cost).</summary>
    public Imaging.JpegScanChecking JpegScanCheck { get; init; } = Imaging.JpegScanChecking.Always;
    /// <summary>Let JPEG decoding shrink in the DCT domain when the model input is much smaller.</summary>
    public bool ScaledJpegDecode { get; init; } = true;

    public int EffectiveIntraOpThreads => IntraOpThreads > 0 ? IntraOpThreads : Math.Clamp(Environment.ProcessorCount, 1, 4);

    public void Validate()
    {
        if (IntraOpThreads is < 0 or > MaxThreads) throw new ArgumentException($"threads must be 0 (automatic) .. {MaxThreads}, got {IntraOpThreads}");
        if (MaxBatch is < 1 or > 1024) throw new ArgumentException($"MaxBatch must be 1..1024, got {MaxBatch}");
        if (MaxImagePixels is < 1 or > 1_000_000_000) throw new ArgumentException($"the pixel limit must be 1..1000000000, got {MaxImagePixels}");
    }
}
