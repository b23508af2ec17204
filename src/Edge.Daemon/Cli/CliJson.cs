using System.Text.Json.Serialization;
using Edge.Cli;

namespace Edge.Daemon.Cli;

public sealed record JsonPrediction(string Label, int Index, float Score);

public sealed record JsonImage(string Format, int Width, int Height, int Orientation);

public sealed record JsonClassifyResult(string Path, bool Ok, IReadOnlyList<JsonPrediction>? Top, JsonImage? Image, string? Error);

public sealed record JsonClassifyReport(string Model, int Classified, int Failed, IReadOnlyList<JsonClassifyResult> Results, JsonRegion? Region = null);
/// <summary>The part of each image classified (<c>--region</c>), in fractions of the image.</summary>
public sealed record JsonRegion(double X, double Y, double Width, double Height);

public sealed record JsonSignature(string Name, string Type, IReadOnlyList<string> Dims);

public sealed record JsonLayer(string Name, string Op, IReadOnlyList<long>? OutputShape, long? Macs, long Parameters);

public sealed record JsonPreprocessing(int Width, int Height, string Color, string Resize, float CropFraction, float Scale,
    float[] Mean, float[] Std, int LetterboxFill, string Layout);

public sealed record JsonInspectReport(
    string Path, long FileBytes, string Producer, long IrVersion, IReadOnlyDictionary<string, long> Opsets,
    IReadOnlyList<JsonSignature> Inputs, IReadOnlyList<JsonSignature> Outputs,
    IReadOnlyDictionary<string, int> Operators, int Nodes, long Parameters, long ParameterBytes,
    long TotalMacs, int LayersWithUnknownMacs, IReadOnlyList<JsonLayer> Layers,
    IReadOnlyDictionary<string, string> Metadata, JsonPreprocessing? Preprocessing, IReadOnlyList<string>? Labels,
    string? Output, string? RunnableError, Http.Int8WeightsSummary Int8Weights);

public sealed record JsonStage(string Name, double MedianMs, double P99Ms, double MeanMs, double BytesPerFrame);

public sealed record JsonBenchReport(
    string Model, string Image, int ImageWidth, int ImageHeight, int Iterations, int Warmup, int Threads,
    IReadOnlyList<JsonStage> Stages, JsonStage BareOnnxRuntime, double InferOverBare, double DecodePreprocessOverInfer,
    double TotalMedianMs, double FramesPerSecond, double BytesPerFrame);

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata, WriteIndented = true, PropertyNamingPolicy = JsonNaming.Policy,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JsonClassifyReport))]
[JsonSerializable(typeof(JsonInspectReport))]
[JsonSerializable(typeof(JsonBenchReport))]
[JsonSerializable(typeof(PipelineBenchReport))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
