using System.Text.Json;
using Edge.ModelPrep.Data;
using Edge.ModelPrep.Models;

namespace Edge.ModelPrep.Training;

/// <summary>Training that continues from a trained checkpoint (pruning's and quantization-aware fine-tuning): the source run's settings.</summary>
public static class FineTuning
{
    /// <summary>The training options of the run a checkpoint belongs to (its config.json two folders up), or null.</summary>
    public static TrainOptions? ReadConfig(string checkpointFolder)
    {
        var parent = Path.GetDirectoryName(Path.GetFullPath(checkpointFolder).TrimEnd('/'));
        if (parent is null || Path.GetFileName(parent) != "checkpoints") return null;
        var config = new RunFolder(Path.GetDirectoryName(parent)!).Config;
        if (!File.Exists(config)) return null;
        try { return JsonSerializer.Deserialize(File.ReadAllText(config), TrainingJson.Default.TrainOptions); }
        catch (JsonException e) { throw new CheckpointException($"cannot read '{config}': {e.Message}", e); }
    }

    /// <summary>A tenth of the source run's peak learning rate (0.01 for a default SGD run).</summary>
    public static double LearningRate(TrainOptions? config) => (config?.LearningRate ?? 0.1) * 0.1;

    /// <summary>
    /// The source run's settings (its augmentation, optimizer, seed, test data; or light augmentation without a
    /// config) for <paramref name="spec"/>, starting from <paramref name="init"/>'s weights with the checkpoint's
    /// own preprocessing, no warm-up and no pretrained start. Callers set epochs and learning rate.
    /// </summary>
    public static TrainOptions Options(TrainOptions? config, CheckpointState state, ArchSpec spec, string data, string init)
    {
        var baseline = config ?? new TrainOptions
        {
            Data = data, Arch = spec, Color = state.Color, Augmentation = AugmentationOptions.Preset("light"),
        };
        return baseline with
        {
            Data = data, Arch = spec, Color = state.Color, Resize = state.Resize, Mean = state.Mean, Std = state.Std,
            WarmupEpochs = 0, Pretrained = null, HeadEpochs = 0, BackboneLrFactor = 1, Init = init, Teacher = null,
            AutoBatch = false, Patience = 0, Qat = false, TestData = config?.TestData,
        };
    }
}
