using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Training;

public sealed record RunFolder(string Root)
{
    public string Config => Path.Combine(Root, "config.json");
    public string Metrics => Path.Combine(Root, "metrics.csv");
    public string Steps => Path.Combine(Root, "steps.csv");
    public string Labels => Path.Combine(Root, "labels.txt");
    public string TensorBoard => Path.Combine(Root, "tensorboard");
    public string Last => Path.Combine(Root, "checkpoints", "last");
    public string Best => Path.Combine(Root, "checkpoints", "best");
    public string Report => Path.Combine(Root, "report");
}
