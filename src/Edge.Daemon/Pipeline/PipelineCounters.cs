using System.Diagnostics;
using System.Threading.Channels;
using Edge.Core.Imaging;
using Edge.Core.Inference;
using Edge.Daemon.Actions;
using Edge.Daemon.Capture;
using Edge.Daemon.Storage;
using Edge.Daemon.Triggers;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Pipeline;

public sealed record PipelineCounters(long FramesCaptured, long FramesDropped, long FramesClassified, long CorruptFrames, long InferenceErrors,
    string? LastInferenceError, long StoreLost, int StorePending, string? StoreError);
