using TorchSharp;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Models;

/// <summary>A pretrained backbone that cannot be used, with the node or file that says why.</summary>
public sealed class PretrainedException(string message) : EdgeException(message);
