using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Edge.Cli;
using Edge.ModelPrep.Training;

namespace Edge.ModelPrep.Commands;

/// <summary>
/// <c>edge-prep qat RUN --out R</c>: quantization-aware fine-tuning. The result is an ordinary run whose weights
/// were trained under the rounding <c>quantize</c> will apply, so export and quantize it as any run.
/// </summary>
internal static class QatCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("checkpoint") { Description = "A trained run folder (its best checkpoint) or a checkpoint folder" };
        var output = new Option<string>("--out", "-o") { Description = "Run folder for the fine-tuned network", Required = true };
        var epochs = new Option<int>("--epochs", "-e") { Description = "Fine-tuning epochs", DefaultValueFactory = _ => 2 };
        var lr = new Option<double?>("--lr") { Description = "Learning rate (default: a tenth of the source run's)" };
        var teacher = new Option<string?>("--teacher") { Description = "Distil from this teacher (a run, checkpoint or ONNX classifier), or 'source' for the network before fine-tuning" };
        var data = new Option<string?>("--data", "-d") { Description = "Training data (default: the source run's)" };
        var batch = new Option<int?>("--batch-size", "-b") { Description = "Batch size (default: the source run's)" };
        var threads = new Option<int>("--threads") { Description = "libtorch threads (0 = libtorch's default)", DefaultValueFactory = _ => 0 };
        var maxImages = new Option<int>("--max-images") { Description = "Use a seeded subset (0 = the source run's choice)", DefaultValueFactory = _ => 0 };
        var maxSteps = new Option<int>("--max-steps") { Description = "Stop after this many steps (0 = no limit)", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its last checkpoint" };
        var json = new Option<bool>("--json") { Description = "Write a JSON summary to standard output" };
        var command = new Command("qat", "Quantization-aware fine-tuning: train with weights and activations rounded as the INT8 model will round them, then export and quantize as usual");
        command.Arguments.Add(input);
        foreach (var o in new Option[] { output, epochs, lr, teacher, data, batch, threads, maxImages, maxSteps, resume, json }) command.Options.Add(o);
        command.SetAction(r => Program.Errors.Run(() =>
        {
            if (r.GetValue(epochs) < 1) throw new CliError($"--epochs {r.GetValue(epochs)}: expected at least 1", ExitCodes.Usage);
            var source = Checkpoint.Resolve(r.GetValue(input)!);
            var state = Checkpoint.ReadState(source);
            var config = FineTuning.ReadConfig(source);
            var teacherPath = r.GetValue(teacher) is "source" ? source : r.GetValue(teacher);
            if (teacherPath is not null && !File.Exists(teacherPath) && !Directory.Exists(teacherPath))
                throw new CliError($"--teacher '{teacherPath}': no such file or folder (or 'source')", ExitCodes.Usage);
            var options = FineTuning.Options(config, state, state.Arch, r.GetValue(data) ?? config?.Data ?? state.Data, source) with
            {
                Qat = true, Teacher = teacherPath, Epochs = r.GetValue(epochs), LearningRate = r.GetValue(lr) ?? FineTuning.LearningRate(config),
                BatchSize = r.GetValue(batch) ?? config?.BatchSize ?? 128, Threads = r.GetValue(threads),
                MaxImages = r.GetValue(maxImages) > 0 ? r.GetValue(maxImages) : config?.MaxImages ?? 0, MaxSteps = r.GetValue(maxSteps),
            };
            options.Validate();
            var run = new RunFolder(r.GetValue(output)!);
            if (!r.GetValue(resume) && Directory.Exists(run.Last))
                throw new CliError($"'{run.Root}' already holds a run: pass --resume to continue it, or choose another --out");
            using var progress = new ConsoleProgress(quiet: false);
            using var cancel = new CtrlC(progress, "stopping after this step (the last checkpoint is kept)");
            progress.Message($"quantization-aware fine-tuning of {state.Arch.Describe()} from {source} for {options.Epochs} epoch(s) into {run.Root}");
            var result = new Trainer(options, run, progress).Run(r.GetValue(resume), cancel.Token);
            var summary = new TrainSummary(run.Root, result.Last.Epoch, result.Best.BestEpoch, result.Best.BestValAccuracy, result.StoppedEarly,
                result.Epochs.Count > 0 ? result.Epochs.Average(e => e.ImagesPerSecond) : 0, result.DataWaitFraction,
                result.TrainImages, result.ValImages, result.Skipped.Count, null);
            if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(summary, CommandJson.Default.TrainSummary));
            progress.Message(string.Create(CultureInfo.InvariantCulture,
                $"done: best epoch {result.Best.BestEpoch} of {result.Last.Epoch}: validation {result.Best.BestValAccuracy:0.00}% with fake-quantized weights and activations ({result.ValImages} images)"));
            progress.Message($"next: edge-prep export {run.Root} --out qat.onnx && edge-prep quantize qat.onnx qat.int8.onnx --calibration {options.Data} --eval {options.TestData ?? "TEST-DATA"}");
            var complete = result.Last.Epoch >= options.Epochs || (options.MaxSteps > 0 && result.Last.Step >= options.MaxSteps);
            return complete ? ExitCodes.Ok : ExitCodes.Cancelled;
        }));
        return command;
    }
}
