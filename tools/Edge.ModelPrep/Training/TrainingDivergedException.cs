using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Training;

/// <summary>The paths inside a run folder.</summary>
/// <summary>Training diverged (the loss is not a number): the settings', not the program's, fault.</summary>
public sealed class TrainingDivergedException(string message) : EdgeException(message);
