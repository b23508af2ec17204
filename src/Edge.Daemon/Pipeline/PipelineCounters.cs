
namespace Edge.Daemon.Pipeline;

public sealed record PipelineCounters(long FramesCaptured, long FramesDropped, long FramesClassified, long CorruptFrames, long InferenceErrors,
    string? LastInferenceError, long StoreLost, int StorePending, string? StoreError, long FramesSkipped = 0);
