using BenchmarkDotNet.Attributes;
using Edge.Core.Imaging;
using Edge.Core.Inference;
using Edge.Onnx.Metadata;
using Edge.TestSupport;

namespace Edge.Benchmarks;

/// <summary>
/// Decode and preprocess of a 640x480 camera-sized JPEG into a 224x224 tensor. The baseline is the
/// full-resolution decode; the DCT-scaled decode and each resize mode are measured against it in
/// the same run, and so is the cost of the JPEG scan check (a cut-off frame's detector). MemoryDiagnoser
/// shows the per-frame allocation (expected: none).
/// </summary>
[MemoryDiagnoser, MedianColumn]
public class ImagingBenchmarks
{
    private byte[] _jpeg = [];
    private ImageDecoder _full = null!, _scaled = null!, _unchecked = null!, _greyFill = null!;
    private readonly JpegScanCheck _check = new();
    private PixelBuffer _pixels = null!;
    private Preprocessor _squash = null!, _crop = null!, _letterbox = null!, _gray = null!;
    private float[] _tensor = [];
    private float[] _logits = [], _probabilities = [];
    private readonly Prediction[] _top = new Prediction[5];

    [GlobalSetup]
    public void Setup()
    {
        _jpeg = TestImages.Jpeg(TestImages.Pattern(640, 480), 640, 480, 85);
        _full = new ImageDecoder(new ImageDecoderOptions { ScaledJpegDecode = false });
        _scaled = new ImageDecoder();
        _unchecked = new ImageDecoder(new ImageDecoderOptions { ScanCheck = JpegScanChecking.Off });
        _greyFill = new ImageDecoder(new ImageDecoderOptions { ScanCheck = JpegScanChecking.WhenGreyFilled });
        _pixels = new PixelBuffer();
        PreprocessingSpec Spec(ResizeMode mode, int channels = 3) => PreprocessingSpec.Resolve(new ModelSettings { Resize = mode }, channels, 224, 224);
        _squash = new Preprocessor(Spec(ResizeMode.Squash));
        _crop = new Preprocessor(Spec(ResizeMode.CenterCrop));
        _letterbox = new Preprocessor(Spec(ResizeMode.Letterbox));
        _gray = new Preprocessor(Spec(ResizeMode.Squash, 1));
        _tensor = new float[3 * 224 * 224];
        _full.Decode(_jpeg, _pixels);
        _logits = [.. Enumerable.Range(0, 1000).Select(i => (float)Math.Sin(i))];
        _probabilities = new float[1000];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _full.Dispose();
        _scaled.Dispose();
        _unchecked.Dispose();
        _greyFill.Dispose();
        _pixels.Dispose();
    }

    [Benchmark(Baseline = true)]
    public int DecodeFull() => _full.Decode(_jpeg, _pixels).DecodedWidth;

    [Benchmark]
    public int DecodeDctScaledFor224() => _scaled.Decode(_jpeg, _pixels, new ScaleHint(224, 224, ResizeMode.Squash)).DecodedWidth;

    /// <summary>The same decode without the scan check: the check's cost is the difference.</summary>
    [Benchmark]
    public int DecodeDctScaledFor224WithoutScanCheck() => _unchecked.Decode(_jpeg, _pixels, new ScaleHint(224, 224, ResizeMode.Squash)).DecodedWidth;

    /// <summary>The camera path: the scan is walked only for a grey-filled (cut-off) image.</summary>
    [Benchmark]
    public int DecodeDctScaledFor224WhenGreyFilled() => _greyFill.Decode(_jpeg, _pixels, new ScaleHint(224, 224, ResizeMode.Squash)).DecodedWidth;

    [Benchmark]
    public JpegScanCheck.Problem JpegScanCheckAlone() => _check.Check(_jpeg);

    [Benchmark]
    public float PreprocessSquash() { _squash.Run(_pixels.View, _tensor); return _tensor[0]; }

    [Benchmark]
    public float PreprocessCenterCrop() { _crop.Run(_pixels.View, _tensor); return _tensor[0]; }

    [Benchmark]
    public float PreprocessLetterbox() { _letterbox.Run(_pixels.View, _tensor); return _tensor[0]; }

    [Benchmark]
    public float PreprocessGray() { _gray.Run(_pixels.View, _tensor); return _tensor[0]; }

    [Benchmark]
    public float Softmax1000() { Classifier.Softmax(_logits, _probabilities); return _probabilities[0]; }
}
