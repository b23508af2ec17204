using System.Text.Json.Serialization;
using Edge.Cli;
using Edge.Daemon.Capture;
using Edge.Daemon.Storage;

namespace Edge.Daemon.Http;

public sealed record LatencySummary(double P50, double P90, double P99, int Samples);
/// <summary>The running model: what it is (hash, version, origin, when loaded), its probation, the one before it, and how updates stand.</summary>
public sealed record ModelSummary(string Path, string Input, int Classes, IReadOnlyList<string> Providers, int Threads, string Sha256, string? Version,
    string Origin, DateTimeOffset LoadedAt, ProbationSummary? Probation, Models.ModelIdentity? Previous, ModelUpdatesSummary Updates,
    Int8WeightsSummary Int8Weights, string? Warning);

/// <summary>INT8 weight tensors, their widest |code|, the bits that needs (see <see cref="Onnx.Model.Int8Weights"/>), and whether this CPU computes them exactly.</summary>
public sealed record Int8WeightsSummary(int Tensors, int MaxMagnitude, int Bits, bool ExactHere)
{
    public static Int8WeightsSummary Of(Onnx.Model.Int8Weights w, bool exactHere) => new(w.Tensors, w.MaxMagnitude, w.Bits, exactHere);
}
public sealed record ProbationSummary(int Classified, int Failures, int Frames, int RollbackAfterFailures);
public sealed record ModelUpdatesSummary(bool Enabled, string? Folder, bool Api, long Accepted, long Refused, long RolledBack, Models.ModelIdentity? Pending,
    IReadOnlyList<Models.ModelEvent> Recent);
public sealed record ModelUpdateResponse(string Outcome, Models.ModelIdentity? Model, string? Reason, int ProbationFrames);
public sealed record ModelEventsResponse(IReadOnlyList<StoredModelEvent> Events);
public sealed record StoreSummary(bool Enabled, string? Path, bool Open, int Pending, long Written, long Lost, string? Error);
public sealed record HealthSummary(bool Ok, IReadOnlyList<string> Problems);
public sealed record UploadSummary(bool Enabled, int Queued, int Capacity, long Completed, long Rejected, long Failed);
public sealed record LatestSummary(long Frame, DateTimeOffset Time, string Trigger, IReadOnlyList<StoredPrediction> Top, double LatencyMs);
public sealed record StageSummary(double DecodeP50, double PreprocessP50, double InferP50, double PostP50);
public sealed record StatusResponse(string Version, double UptimeSeconds, HealthSummary Health, ModelSummary Model, SourceStatus Source, string Trigger,
    long FramesCaptured, long FramesDropped, long FramesClassified, long CorruptFrames, long InferenceErrors, string? LastInferenceError, long MotionEvents,
    double ClassificationsPerSecond, LatencySummary LatencyMs, StageSummary StagesMs, double[] RecentLatencyMs, LatestSummary? Latest, StoreSummary Store,
    UploadSummary Uploads, string Camera, IReadOnlyList<Pipeline.RegionStatus> Regions, DecisionSummary Decision, IReadOnlyList<StateEventRecord> RecentEvents,
    IReadOnlyList<Webhooks.WebhookStatus> Webhooks, long FramesSkipped, double MaxRate, ClipsSummary Clips, IReadOnlyList<CameraSummary> Cameras);
/// <summary>
/// One camera of the daemon: the top level of the status repeats the first camera's fields (for single-camera clients);
/// this has every camera's, each on its own.
/// </summary>
public sealed record CameraSummary(string Name, HealthSummary Health, SourceStatus Source, string Trigger, double MaxRate, long FramesCaptured,
    long FramesClassified, long FramesSkipped, long FramesDropped, long CorruptFrames, long InferenceErrors, double ClassificationsPerSecond,
    LatencySummary LatencyMs, LatencySummary CaptureToResultMs, string Model, bool OwnModel, IReadOnlyList<Pipeline.RegionStatus> Regions,
    IReadOnlyList<StateEventRecord> RecentEvents, long StateChanges);
public sealed record ClipsSummary(bool Enabled, string? Folder, long Saved, long Failed);
/// <summary>The decision rules in force, as configured.</summary>
public sealed record DecisionSummary(float MinScore, float MinMargin, IReadOnlyList<Decisions.ClassThresholdOptions> Classes, int Consecutive, float? LeaveScore,
    int MinStateMs, long StateChanges);
public sealed record EventsResponse(IReadOnlyList<StoredEvent> Events, long LastId);
public sealed record ClassifyResponse(IReadOnlyList<StoredPrediction> Top, double LatencyMs);
public sealed record ErrorResponse(string Error);
public sealed record TriggerResponse(string Status, int Frames, IReadOnlyList<string> Cameras);
public sealed record ResultsResponse(IReadOnlyList<StoredResult> Results, long LastId);

// Named float literals: a non-finite number must never turn the API into 500s (the pipeline refuses them; this is the second line).
[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata, PropertyNamingPolicy = JsonNaming.Policy, UseStringEnumConverter = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(StatusResponse))]
[JsonSerializable(typeof(ClassifyResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(TriggerResponse))]
[JsonSerializable(typeof(ResultsResponse))]
[JsonSerializable(typeof(ModelSummary))]
[JsonSerializable(typeof(ModelUpdateResponse))]
[JsonSerializable(typeof(ModelEventsResponse))]
[JsonSerializable(typeof(EventsResponse))]
internal sealed partial class HttpJson : JsonSerializerContext;
