using TorchSharp;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Training;

public sealed class CheckpointException(string message, Exception? inner = null) : EdgeException(message, inner);
