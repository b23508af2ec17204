using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Cli;
using Edge.ModelPrep.Models;
using Edge.Onnx.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Training;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonNaming.Policy, WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(CheckpointState))]
[JsonSerializable(typeof(TrainOptions))]
internal sealed partial class TrainingJson : JsonSerializerContext;

/// <summary>
/// A checkpoint folder: <c>model.bin</c> (TorchSharp weights), <c>optimizer.bin</c> (momentum/Adam
/// moments), <c>state.json</c>. Written to a temporary folder and renamed, so a crash mid-save keeps the previous one.
/// </summary>
public static class Checkpoint
{
    public const string ModelFile = "model.bin", OptimizerFile = "optimizer.bin", StateFile = "state.json";

    public static void Save(string folder, ClassifierNet net, optim.Optimizer? optimizer, CheckpointState state)
    {
        var tmp = folder.TrimEnd('/') + ".tmp";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        net.save(Path.Combine(tmp, ModelFile));
        if (optimizer is TorchSharp.Modules.OptimizerHelper helper) helper.save_state_dict(Path.Combine(tmp, OptimizerFile));
        AtomicFile.WriteText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(state, TrainingJson.Default.CheckpointState));
        var old = folder.TrimEnd('/') + ".old";
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(folder)) Directory.Move(folder, old);
        Directory.Move(tmp, folder);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }

    /// <summary>The checkpoint folder meant by <paramref name="path"/>: a checkpoint folder, or a run folder (its best, else last).</summary>
    public static string Resolve(string path)
    {
        if (File.Exists(Path.Combine(path, StateFile))) return path;
        foreach (var name in new[] { "best", "last" })
        {
            var candidate = Path.Combine(path, "checkpoints", name);
            if (File.Exists(Path.Combine(candidate, StateFile))) return candidate;
        }
        throw new CheckpointException($"'{path}' is neither a checkpoint folder (with {StateFile}) nor a run folder with checkpoints/best or checkpoints/last");
    }

    public static CheckpointState ReadState(string folder)
    {
        var file = Path.Combine(folder, StateFile);
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(file), TrainingJson.Default.CheckpointState)
                ?? throw new CheckpointException($"'{file}' is empty");
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"cannot read '{file}': {e.Message}", e);
        }
    }

    /// <summary>Builds the network the checkpoint describes and loads its weights.</summary>
    public static (ClassifierNet Net, CheckpointState State) Load(string path)
    {
        var folder = Resolve(path);
        var state = ReadState(folder);
        ClassifierNet net;
        // The architecture comes from the file here, not from flags: a bad one is the file's fault, said with its name.
        try { net = Architectures.Create(state.Arch); }
        catch (CliError e) { throw new CheckpointException($"'{Path.Combine(folder, StateFile)}' describes an architecture Edge cannot build: {e.Message}", e); }
        LoadWeights(folder, net, state);
        return (net, state);
    }

    /// <summary>Loads weights into <paramref name="net"/>, refusing a checkpoint of another architecture with both named.</summary>
    public static void LoadWeights(string folder, ClassifierNet net, CheckpointState state)
    {
        if (state.Arch with { Dropout = net.Spec.Dropout } != net.Spec)
            throw new CheckpointException($"checkpoint '{folder}' holds a {state.Arch.Describe()}, not the requested {net.Spec.Describe()}");
        try
        {
            net.load(Path.Combine(folder, ModelFile), strict: true);
        }
        catch (Exception e) when (e is not CheckpointException)
        {
            throw new CheckpointException($"checkpoint '{folder}' does not fit a {net.Spec.Describe()}: {e.Message}", e);
        }
    }

    public static void LoadOptimizer(string folder, optim.Optimizer optimizer)
    {
        var file = Path.Combine(folder, OptimizerFile);
        if (!File.Exists(file)) throw new CheckpointException($"'{folder}' has no {OptimizerFile}: it cannot be resumed");
        try
        {
            ((TorchSharp.Modules.OptimizerHelper)optimizer).load_state_dict(file);
        }
        catch (Exception e)
        {
            throw new CheckpointException($"cannot load the optimizer state from '{file}' (another --optimizer?): {e.Message}", e);
        }
    }
}
