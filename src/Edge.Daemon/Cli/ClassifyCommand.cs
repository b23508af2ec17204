using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Edge.Cli;
using Edge.Core.Diagnostics;
using Edge.Core.Imaging;
using Edge.Core.Inference;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Cli;

/// <summary><c>edged classify &lt;files|folders&gt;... [--model M] [--top K] [--json]</c></summary>
internal static class ClassifyCommand
{

    public static Command Create(ILoggerFactory logs)
    {
        var model = new ModelArguments();
        var paths = new Argument<string[]>("paths") { Description = "Image files, or folders searched for images", Arity = ArgumentArity.OneOrMore };
        var top = new Option<int>("--top", "-k") { Description = "How many classes to show per image", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Write a JSON report to standard output" };
        var batch = new Option<int>("--batch") { Description = "Images per inference call", DefaultValueFactory = _ => 8 };
        var region = new Option<string?>("--region") { Description = "Classify only this part of each image: x,y,width,height in fractions of the image (as edged.json's Regions)" };
        var command = new Command("classify", "Classify images with an ONNX model and print the top classes");
        command.Arguments.Add(paths);
        command.Options.Add(top);
        command.Options.Add(json);
        command.Options.Add(batch);
        command.Options.Add(region);
        model.AddTo(command);
        command.SetAction(r => Program.Guard(() => Run(r, model, r.GetValue(paths)!, r.GetValue(top), r.GetValue(json), r.GetValue(batch), r.GetValue(region), logs)));
        return command;
    }

    private static int Run(ParseResult r, ModelArguments modelArgs, string[] paths, int top, bool json, int batchSize, string? regionText, ILoggerFactory logs)
    {
        Regions.Region? region = null;
        if (regionText is not null)
        {
            try { region = Regions.Region.Parse(regionText); }
            catch (FormatException e) { throw new CliError($"--region: {e.Message}", ExitCodes.Usage); }
        }
        if (top < 1) throw new CliError("--top must be at least 1", ExitCodes.Usage);
        if (batchSize is < 1 or > 256) throw new CliError("--batch must be 1..256", ExitCodes.Usage);
        var logger = logs.CreateLogger("edged");
        var files = Expand(paths);
        if (files.Count == 0) throw new CliError($"no images found in {string.Join(", ", paths)}");

        using var classifier = modelArgs.Load(r, logger, batchSize);
        var k = Math.Min(top, classifier.ClassCount);
        var results = new JsonClassifyResult?[files.Count];
        var pending = new List<(int Index, DecodeInfo Info)>(classifier.MaxBatch);
        var predictions = new Prediction[k];
        var progress = new ProgressLines("edged"); // a folder of thousands says where it is; a few files say nothing

        void Flush()
        {
            if (pending.Count == 0) return;
            // A model error fails the whole batch; NaN scores fail only the images that have them.
            string? batchFailure = null;
            var nonFinite = false;
            try
            {
                classifier.Run(pending.Count);
            }
            catch (InferenceException e)
            {
                if (e.NonFinite) nonFinite = true;
                else batchFailure = e.Message;
            }
            for (var slot = 0; slot < pending.Count; slot++)
            {
                var (index, info) = pending[slot];
                var error = batchFailure ?? (nonFinite && !classifier.ScoresFinite(slot) ? "the model produced non-finite scores (NaN or infinity) for this image" : null);
                if (error is not null)
                {
                    results[index] = new JsonClassifyResult(files[index], false, null, null, error);
                    if (!json) Console.Error.WriteLine($"edged: {files[index]}: {error}");
                    continue;
                }
                var n = classifier.TopK(slot, predictions);
                results[index] = new JsonClassifyResult(files[index], true,
                    [.. predictions[..n].Select(p => new JsonPrediction(p.Label, p.ClassIndex, p.Score))],
                    new JsonImage(info.Format, info.SourceWidth, info.SourceHeight, info.Orientation), null);
            }
            pending.Clear();
        }

        for (var i = 0; i < files.Count; i++)
        {
            try
            {
                var bytes = Onnx.IO.BoundedFile.ReadAll(files[i], Core.Imaging.ImageDecoderOptions.MaxFileBytes);
                DecodeInfo info;
                if (region is { } part)
                {
                    // As the daemon does: decoded at the resolution the region needs, then only its pixels preprocessed.
                    info = classifier.Decode(bytes, Regions.Region.DecodeHint([part], classifier.Model.Preprocessing));
                    classifier.Preprocess(part.Crop(classifier.Image), pending.Count);
                }
                else info = classifier.LoadImage(bytes, pending.Count);
                pending.Add((i, info));
            }
            catch (Exception e) when (e is ImageDecodeException or IOException or UnauthorizedAccessException)
            {
                results[i] = new JsonClassifyResult(files[i], false, null, null, e.Message);
                if (!json) Console.Error.WriteLine($"edged: {files[i]}: {e.Message}");
            }
            if (pending.Count == classifier.MaxBatch) Flush();
            progress.Report(new StepProgress("classified", i + 1, files.Count));
        }
        Flush();

        var all = results.Select(x => x!).ToList();
        var failed = all.Count(x => !x.Ok);
        if (json)
        {
            var report = new JsonClassifyReport(classifier.Model.Path, all.Count - failed, failed, all,
                region is { } g ? new JsonRegion(g.X, g.Y, g.Width, g.Height) : null);
            Console.Out.WriteLine(JsonSerializer.Serialize(report, CliJsonContext.Default.JsonClassifyReport));
        }
        else
        {
            var table = new TextTable("image", "top class", "score", $"next {k - 1}").AlignRight(2);
            foreach (var x in all)
            {
                if (!x.Ok)
                {
                    table.Add(x.Path, "(error)", "", x.Error!);
                    continue;
                }
                var best = x.Top![0];
                table.Add(x.Path, best.Label, Percent(best.Score), string.Join(", ", x.Top.Skip(1).Select(p => $"{p.Label} {Percent(p.Score)}")));
            }
            Console.Out.Write(table.ToString());
            Console.Out.WriteLine($"{all.Count - failed} classified, {failed} failed; model {classifier.Model.Path}" +
                (region is { } g ? string.Create(CultureInfo.InvariantCulture, $"; region x={g.X} y={g.Y} width={g.Width} height={g.Height}") : ""));
        }
        return failed == 0 ? ExitCodes.Ok : ExitCodes.SomeInputsFailed;
    }

    private static string Percent(float p) => (p * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    /// <summary>Files as given, and image files found (recursively, sorted) in folders.</summary>
    internal static List<string> Expand(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (var p in paths)
        {
            if (Directory.Exists(p))
            {
                var found = Directory.EnumerateFiles(p, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
                    .Where(ImageFiles.IsImage)
                    .Order(StringComparer.Ordinal);
                files.AddRange(found);
            }
            else if (File.Exists(p)) files.Add(p);
            else throw new CliError($"'{p}' does not exist");
        }
        return files;
    }
}
