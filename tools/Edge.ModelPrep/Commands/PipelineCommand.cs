using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Edge.Cli;
using Edge.ModelPrep.Pipeline;

namespace Edge.ModelPrep.Commands;

/// <summary><c>edge-prep pipeline --data D --out R [--config pipeline.json]</c>: from labelled images to a pruned INT8 model and its report.</summary>
internal static class PipelineCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data", "-d") { Description = "Labelled images: an ImageFolder tree (root/<class>/*.jpg|png), an IDX file or fashion-mnist", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Folder for every stage's output, pipeline.json and report/", Required = true };
        var config = new Option<string?>("--config") { Description = "Settings (JSON; keys as in settings.json, all optional)" };
        var testData = new Option<string?>("--test-data") { Description = "Held-out labelled images for the report (default: fashion-mnist's test split for fashion-mnist)" };
        var json = new Option<bool>("--json") { Description = "Write the summary (pipeline.json) to standard output" };
        var command = new Command("pipeline", "Teacher → distilled student → structured pruning → INT8 (quantization-aware when needed) → report; rerun the same command to continue a stopped pipeline");
        foreach (var o in new Option[] { data, output, config, testData, json }) command.Options.Add(o);
        command.SetAction(r => Program.Errors.Run(() =>
        {
            var settings = Read(r.GetValue(config));
            if (r.GetValue(data) is { } d && !d.StartsWith("fashion-mnist", StringComparison.OrdinalIgnoreCase) && !Directory.Exists(d) && !File.Exists(d))
                throw new CliError($"--data '{d}': no such folder or file", ExitCodes.Usage);
            using var progress = new ConsoleProgress(quiet: false);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            PipelineSummary summary;
            try { summary = new PipelineRunner(r.GetValue(data)!, r.GetValue(output)!, r.GetValue(testData), settings, progress).Run(); }
            catch (PipelineRunner.StageFailedException e)
            {
                progress.Message($"pipeline stopped at stage '{e.Stage}'; what is done is kept: rerun the same command to continue");
                return e.Code;
            }
            if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(summary, PipelineJson.Default.PipelineSummary));
            var final = summary.Points.First(p => p.Model == summary.Final);
            progress.Message(string.Create(CultureInfo.InvariantCulture,
                $"done in {clock.Elapsed.TotalMinutes:0.0} min: {summary.Points[0].Stage} {summary.Points[0].Top1:0.00}% at {summary.Points[0].LatencyP50Ms:0.###} ms → final {final.Precision} {final.Top1:0.00}% at {final.LatencyP50Ms:0.###} ms ({final.Macs / 1e6:0.##} M MACs, {final.Bytes / 1024.0:0} KiB)"));
            progress.Message($"files: {summary.Final} (the model), {summary.Report}, {Path.Combine(summary.Out, PipelineRunner.SummaryFile)}");
            progress.Message($"next: edged classify --model {summary.Final} IMAGES...");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static PipelineConfig Read(string? path)
    {
        if (path is null) return new PipelineConfig();
        if (!File.Exists(path)) throw new CliError($"--config '{path}': no such file", ExitCodes.Usage);
        try
        {
            var bytes = Edge.Onnx.IO.BoundedFile.ReadAll(path, 1 << 20); // settings, not data: a megabyte is plenty
            return JsonSerializer.Deserialize(bytes, PipelineJson.Default.PipelineConfig) ?? throw new CliError($"{path}: expected a JSON object of settings");
        }
        catch (JsonException e)
        {
            // System.Text.Json names an unknown key inside its message; say it in our words.
            var unknown = System.Text.RegularExpressions.Regex.Match(e.Message, "property '([^']{1,80})' could not be mapped");
            throw new CliError(unknown.Success
                ? $"{path}: unknown key '{unknown.Groups[1].Value}' (see settings.json of a pipeline run for the keys)"
                : $"{path}: {(e.Path is { Length: > 1 } p ? $"at {p}: " : "")}not valid settings (line {(e.LineNumber ?? 0) + 1})", ExitCodes.Usage);
        }
    }
}
