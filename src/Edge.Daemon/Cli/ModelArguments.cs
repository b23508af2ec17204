using System.CommandLine;
using Edge.Core.Inference;
using Edge.Onnx.Metadata;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Cli;

/// <summary>The options every model-running command shares, and turning them into a loaded <see cref="Classifier"/>.</summary>
internal sealed class ModelArguments
{
    public Option<string?> Model { get; } = new("--model", "-m") { Description = "ONNX model file (default: the shipped models/colors.onnx)" };
    public Option<string?> Labels { get; } = new("--labels") { Description = "Text file with one label per line (overrides the model's labels)" };
    public Option<string?> InputSize { get; } = new("--input-size") { Description = "WIDTHxHEIGHT, for models whose input size is not fixed" };
    public Option<string?> Color { get; } = new("--color") { Description = "rgb, bgr or gray" };
    public Option<string?> Resize { get; } = new("--resize") { Description = "squash, center-crop or letterbox" };
    public Option<string?> Mean { get; } = new("--mean") { Description = "Per-channel mean after scaling, e.g. 0.485,0.456,0.406" };
    public Option<string?> Std { get; } = new("--std") { Description = "Per-channel std after scaling, e.g. 0.229,0.224,0.225" };
    public Option<string?> Scale { get; } = new("--scale") { Description = "Pixel multiplier before mean/std, e.g. 1/255" };
    public Option<string?> OutputKind { get; } = new("--output-kind") { Description = "logits or probabilities (default: detected from a final Softmax)" };
    public Option<int> Threads { get; } = new("--threads", "-t") { Description = "ONNX Runtime intra-op threads (0 = automatic, up to 4)", DefaultValueFactory = _ => 0 };
    public Option<bool> Spin { get; } = new("--spin") { Description = "Let ONNX Runtime threads busy-wait (faster on an idle machine, worse on a busy one)" };
    public Option<string[]> Providers { get; } = new("--provider") { Description = "Execution provider to try before CPU (cuda, tensorrt); repeatable", AllowMultipleArgumentsPerToken = true };
    public Option<string?> OrtLibrary { get; } = new("--onnxruntime") { Description = "Path of a libonnxruntime.so to use instead of the bundled one (e.g. a CUDA/TensorRT build on Jetson)" };
    public Option<long> MaxPixels { get; } = new("--max-pixels") { Description = "Refuse images larger than this many pixels", DefaultValueFactory = _ => 40_000_000 };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Model, Labels, InputSize, Color, Resize, Mean, Std, Scale, OutputKind, Threads, Spin, Providers, OrtLibrary, MaxPixels })
            command.Options.Add(o);
    }

    public string ModelPath(ParseResult r) => r.GetValue(Model) ?? DefaultPaths.DefaultModel;

    public ClassifierOptions Options(ParseResult r, int maxBatch = 8) => new()
    {
        IntraOpThreads = r.GetValue(Threads),
        AllowSpinning = r.GetValue(Spin),
        ExecutionProviders = r.GetValue(Providers) ?? [],
        MaxImagePixels = r.GetValue(MaxPixels),
        MaxInferenceBytes = 4L << 30, // a host command: room for large models at batch 8
        MaxBatch = maxBatch,
    };

    public ModelSettings Overrides(ParseResult r)
    {
        var s = new ModelSettings();
        try
        {
            if (r.GetValue(Labels) is { } labels)
            {
                if (!File.Exists(labels)) throw new CliError($"labels file '{labels}' does not exist");
                s = s with { Labels = ModelSettings.ParseLabelsText(System.Text.Encoding.UTF8.GetString(Onnx.IO.BoundedFile.ReadAll(labels, 16 << 20)), $"--labels '{labels}'") };
            }
            if (r.GetValue(InputSize) is { } size)
            {
                var (w, h) = ModelSettings.ParseSize(size, "--input-size");
                s = s with { Width = w, Height = h };
            }
            if (r.GetValue(Color) is { } color)
                s = s with { Color = PreprocessingNames.TryParseColor(color, out var c) ? c : throw new CliError($"--color '{color}': expected rgb, bgr or gray", ExitCodes.Usage) };
            if (r.GetValue(Resize) is { } resize)
                s = s with { Resize = PreprocessingNames.TryParseResize(resize, out var m) ? m : throw new CliError($"--resize '{resize}': expected squash, center-crop or letterbox", ExitCodes.Usage) };
            if (r.GetValue(Mean) is { } mean) s = s with { Mean = ModelSettings.ParseFloats(mean, "--mean") };
            if (r.GetValue(Std) is { } std) s = s with { Std = ModelSettings.ParseFloats(std, "--std") };
            if (r.GetValue(Scale) is { } scale) s = s with { Scale = ModelSettings.ParseFloat(scale, "--scale") };
            if (r.GetValue(OutputKind) is { } kind)
                s = s with { Output = PreprocessingNames.TryParseOutput(kind, out var k) ? k : throw new CliError($"--output-kind '{kind}': expected logits or probabilities", ExitCodes.Usage) };
        }
        catch (FormatException e)
        {
            throw new CliError(e.Message, ExitCodes.Usage);
        }
        return s;
    }

    public Classifier Load(ParseResult r, ILogger logger, int maxBatch = 8)
    {
        OnnxRuntimeLibrary.Configure(r.GetValue(OrtLibrary), logger);
        var options = Options(r, maxBatch);
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new CliError(e.Message, ExitCodes.Usage);
        }
        try
        {
            return Classifier.Load(ModelPath(r), options, Overrides(r), logger, "command-line flags");
        }
        catch (ModelLoadException e)
        {
            throw new CliError(e.Message);
        }
    }
}
