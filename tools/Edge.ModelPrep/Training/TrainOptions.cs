using System.Text.Json.Serialization;
using Edge.Cli;
using Edge.Core.Inference;
using Edge.ModelPrep.Data;
using Edge.ModelPrep.Models;

namespace Edge.ModelPrep.Training;

/// <summary>Everything a training run was given; written to the run folder as config.json.</summary>
public sealed record TrainOptions
{
    public required string Data { get; init; }
    public string? TestData { get; init; }
    public required ArchSpec Arch { get; init; }
    public required string Color { get; init; }
    public string Resize { get; init; } = "squash";
    public float[]? Mean { get; init; }
    public float[]? Std { get; init; }
    public int Epochs { get; init; } = 20;
    public int BatchSize { get; init; } = 128;
    public string Optimizer { get; init; } = "sgd";
    [JsonPropertyName("lr")] public double LearningRate { get; init; } = 0.1;
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; } = 5e-4;
    public double WarmupEpochs { get; init; } = 0.5;
    public double MinLrFraction { get; init; } = 0.0;
    public double LabelSmoothing { get; init; } = 0.1;
    public string Loss { get; init; } = "cross-entropy";
    public double FocalGamma { get; init; } = 2.0;
    public Balancing Balance { get; init; } = Balancing.None;
    public double ClipGradNorm { get; init; } = 5.0;
    [JsonPropertyName("early_stopping_patience")] public int Patience { get; init; } = 0;
    public double ValFraction { get; init; } = 0.1;
    public int MaxImages { get; init; }
    public required AugmentationOptions Augmentation { get; init; }
    [JsonPropertyName("augmentation_list")] public IReadOnlyList<string> AugmentationList => [.. Augmentation.Describe()];
    public int Seed { get; init; } = 1;
    public int Threads { get; init; }
    public int Workers { get; init; } = 1;
    public string Device { get; init; } = "cpu";
    /// <summary>A pretrained backbone (an ONNX file: the ImageNet one or a user's) to start from, or null (random initialisation).</summary>
    public string? Pretrained { get; init; }
    /// <summary>With a pretrained start: epochs that train only the new classifier, the backbone frozen, before all layers train.</summary>
    public double HeadEpochs { get; init; }
    /// <summary>With a pretrained start: the backbone's learning rate as a fraction of the classifier's.</summary>
    public double BackboneLrFactor { get; init; } = 1.0;
    /// <summary>Keep BatchNorm statistics fixed while training (right for tiny batches, whose statistics are noise).</summary>
    [JsonPropertyName("freeze_batchnorm")] public bool FreezeBatchNorm { get; init; }
    /// <summary>Start from this checkpoint's weights (a pruned network's, which only its own checkpoint describes), or null.</summary>
    public string? Init { get; init; }
    /// <summary>Quantization-aware training: layers run as their INT8 export will (BatchNorm folded and frozen, weights and activations fake-quantized).</summary>
    public bool Qat { get; init; }
    /// <summary>Distillation: the teacher (a run folder, a checkpoint or an ONNX classifier), or null.</summary>
    public string? Teacher { get; init; }
    /// <summary>Distillation: softmax temperature of the soft targets.</summary>
    public double Temperature { get; init; } = 4;
    /// <summary>Distillation: weight of the teacher's soft targets against the labels (0 = labels only, 1 = teacher only).</summary>
    public double Alpha { get; init; } = 0.7;
    /// <summary>The batch size was chosen for the data, not given: it may be made smaller to fit in memory.</summary>
    public bool AutoBatch { get; init; }
    /// <summary>Most memory training may take, in MiB (0 = what the machine has available, less 10%).</summary>
    public double MaxMemoryMib { get; init; }
    /// <summary>Stop after this many optimizer steps (0 = no limit): for quick checks and benchmarks.</summary>
    public int MaxSteps { get; init; }

    public void Validate()
    {
        // NaN passes every range check below (all comparisons with it are false): refused first, by name.
        foreach (var (flag, value) in new[]
        {
            ("--lr", LearningRate), ("--momentum", Momentum), ("--weight-decay", WeightDecay), ("--warmup-epochs", WarmupEpochs),
            ("--min-lr-fraction", MinLrFraction), ("--label-smoothing", LabelSmoothing), ("--focal-gamma", FocalGamma),
            ("--clip-grad-norm", ClipGradNorm), ("--val-fraction", ValFraction), ("--head-epochs", HeadEpochs),
            ("--backbone-lr-factor", BackboneLrFactor), ("--temperature", Temperature), ("--alpha", Alpha), ("--max-memory", MaxMemoryMib),
        })
            if (!double.IsFinite(value)) throw new CliError($"{flag} {value}: expected a finite number", ExitCodes.Usage);
        if (MaxMemoryMib < 0) throw new CliError($"--max-memory {MaxMemoryMib}: expected MiB > 0 (or 0: what the machine has available)", ExitCodes.Usage);
        Arch.Validate();
        if (Epochs < 1) throw new CliError($"--epochs {Epochs}: expected at least 1", ExitCodes.Usage);
        if (Threads is < 0 or > ClassifierOptions.MaxThreads) throw new CliError($"--threads {Threads}: expected 0 (automatic) .. {ClassifierOptions.MaxThreads}", ExitCodes.Usage);
        if (BatchSize is < 1 or > 4096) throw new CliError($"--batch-size {BatchSize}: expected 1..4096", ExitCodes.Usage);
        if (Optimizer is not ("sgd" or "adamw")) throw new CliError($"--optimizer '{Optimizer}': expected sgd or adamw", ExitCodes.Usage);
        if (LearningRate <= 0) throw new CliError($"--lr {LearningRate}: expected > 0", ExitCodes.Usage);
        if (Loss is not ("cross-entropy" or "focal")) throw new CliError($"--loss '{Loss}': expected cross-entropy or focal", ExitCodes.Usage);
        if (LabelSmoothing is < 0 or >= 1) throw new CliError($"--label-smoothing {LabelSmoothing}: expected 0 <= s < 1", ExitCodes.Usage);
        if (WarmupEpochs < 0) throw new CliError($"--warmup-epochs {WarmupEpochs}: expected >= 0", ExitCodes.Usage);
        if (ClipGradNorm < 0) throw new CliError($"--clip-grad-norm {ClipGradNorm}: expected >= 0 (0 = off)", ExitCodes.Usage);
        if (Device is not ("cpu" or "cuda")) throw new CliError($"--device '{Device}': expected cpu or cuda", ExitCodes.Usage);
        if (Temperature is < 0.1 or > 100) throw new CliError($"--temperature {Temperature}: expected 0.1..100", ExitCodes.Usage);
        if (Alpha is < 0 or > 1) throw new CliError($"--alpha {Alpha}: expected 0..1", ExitCodes.Usage);
        if (HeadEpochs < 0 || HeadEpochs > Epochs) throw new CliError($"--head-epochs {HeadEpochs}: expected 0..{Epochs} (the epochs)", ExitCodes.Usage);
        if (BackboneLrFactor is <= 0 or > 10) throw new CliError($"--backbone-lr-factor {BackboneLrFactor}: expected (0, 10]", ExitCodes.Usage);
    }
}
