using System.CommandLine;
using Edge.Cli;
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
        // Flags are one more source for the one settings reader, named by their flag in its messages.
        var flags = new (string Name, Option<string?> Option)[]
        {
            (ModelSettings.Names.InputSize, InputSize), (ModelSettings.Names.Color, Color), (ModelSettings.Names.Resize, Resize),
            (ModelSettings.Names.Mean, Mean), (ModelSettings.Names.Std, Std), (ModelSettings.Names.Scale, Scale),
            (ModelSettings.Names.Output, OutputKind), (ModelSettings.Names.Labels, Labels),
        };
        var values = new Dictionary<string, string>();
        foreach (var (name, option) in flags)
            if (r.GetValue(option) is { } v) values[name] = v;
        try
        {
            string[]? labels = null;
            if (r.GetValue(Labels) is { } file)
            {
                if (!File.Exists(file)) throw new CliError($"labels file '{file}' does not exist");
                labels = ModelSettings.ParseLabelsText(System.Text.Encoding.UTF8.GetString(Onnx.IO.BoundedFile.ReadAll(file, 16 << 20)), $"--labels '{file}'");
            }
            return ModelSettings.Read(values, name => flags.First(f => f.Name == name).Option.Name, labels);
        }
        catch (FormatException e)
        {
            throw new CliError(e.Message, ExitCodes.Usage);
        }
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
        catch (ModelLoadException e) when (e.InnerException is MissingSettingException { Setting: ModelSettings.Names.InputSize })
        {
            throw new CliError($"{e.Message}, or pass {InputSize.Name} WIDTHxHEIGHT", ExitCodes.Failure, e);
        }
        catch (ModelLoadException e)
        {
            throw new CliError(e.Message, ExitCodes.Failure, e);
        }
    }
}
