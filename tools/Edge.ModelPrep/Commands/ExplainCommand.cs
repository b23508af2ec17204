using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Cli;
using Edge.Core.Imaging;
using Edge.ModelPrep.Evaluation;
using Edge.ModelPrep.Explain;
using Edge.ModelPrep.Training;
using Edge.Onnx.IO;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Commands;

public sealed record ExplainedImage(string Image, string Predicted, double Probability, string Explained, double ExplainedProbability, string Heatmap);

public sealed record ExplainSummary(string Model, IReadOnlyList<ExplainedImage> Images);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonNaming.Policy, WriteIndented = true)]
[JsonSerializable(typeof(ExplainSummary))]
internal sealed partial class ExplainJson : JsonSerializerContext;

/// <summary><c>edge-prep explain RUN IMAGES... --out DIR [--class NAME]</c>: Grad-CAM heatmaps of a checkpoint's decisions.</summary>
internal static class ExplainCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "A run folder (its best checkpoint) or a checkpoint folder" };
        var images = new Argument<string[]>("images") { Description = "Image files to explain", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out", "-o") { Description = "Folder for the heatmap PNGs (IMAGE.gradcam.png)", Required = true };
        var explainClass = new Option<string?>("--class") { Description = "Explain this class instead of the predicted one" };
        var json = new Option<bool>("--json") { Description = "Write what was explained as JSON to standard output" };
        var command = new Command("explain", "Grad-CAM: where in each image the network found the evidence for its answer (or for --class)");
        command.Arguments.Add(model);
        command.Arguments.Add(images);
        foreach (var o in new Option[] { output, explainClass, json }) command.Options.Add(o);
        command.SetAction(r => Program.Errors.Run(() => Run(r.GetValue(model)!, r.GetValue(images)!, r.GetValue(output)!, r.GetValue(explainClass), r.GetValue(json))));
        return command;
    }

    private static int Run(string modelPath, string[] files, string outDir, string? className, bool json)
    {
        var (net, state) = Checkpoint.Load(modelPath);
        using var _ = net;
        int? target = null;
        if (className is not null)
        {
            var index = state.Classes.ToList().IndexOf(className);
            if (index < 0) throw new CliError($"--class '{className}' is not one of the model's classes ({string.Join(", ", state.Classes.Take(12))}{(state.Classes.Count > 12 ? ", ..." : "")})", ExitCodes.Usage);
            target = index;
        }
        foreach (var f in files)
            if (!File.Exists(f)) throw new CliError(Directory.Exists(f) ? $"'{f}' is a folder: give the image files (a shell glob such as '{f}/*.jpg')" : $"image '{f}' does not exist");
        Directory.CreateDirectory(outDir);
        var spec = CheckpointEvaluator.Preprocessing(state);
        var preprocessor = new Preprocessor(spec);
        using var decoder = new ImageDecoder();
        using var pixels = new PixelBuffer();
        var buffer = new float[preprocessor.TensorLength];
        var results = new List<ExplainedImage>();
        var failed = 0;
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase); // X.png and x.png are one file on some file systems
        foreach (var file in files)
        {
            try
            {
                decoder.Decode(BoundedFile.ReadAll(file, ImageDecoderOptions.MaxFileBytes), pixels, ScaleHint.For(spec));
            }
            catch (Exception e) when (e is ImageDecodeException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"edge-prep: {file}: {e.Message}");
                failed++;
                continue;
            }
            preprocessor.Run(pixels.View, buffer);
            using var input = tensor(buffer, [1, spec.Channels, spec.Height, spec.Width]);
            var cam = GradCam.Explain(net, input, target);
            if (!cam.Finite)
            {
                Console.Error.WriteLine($"edge-prep: {file}: the network produced non-finite scores (NaN or infinity) for this image");
                failed++;
                continue;
            }
            if (!cam.HasEvidence)
                Console.Error.WriteLine($"edge-prep: {file}: nothing in the image speaks for '{state.Classes[cam.Explained]}': its heatmap is empty");
            // One file per image even when two images share a name (a/x.jpg, b/x.jpg).
            var stem = Path.GetFileNameWithoutExtension(file);
            var name = stem;
            for (var n = 2; !names.Add(name); n++) name = $"{stem}-{n}";
            var heatmap = Path.Combine(outDir, name + ".gradcam.png");
            AtomicFile.Write(heatmap, HeatmapOverlay.Png(HeatmapOverlay.Pixels(buffer, spec), cam.Heatmap, cam.Width, cam.Height));
            results.Add(new ExplainedImage(file, state.Classes[cam.Predicted], Math.Round(cam.Probabilities[cam.Predicted], 4),
                state.Classes[cam.Explained], Math.Round(cam.Probabilities[cam.Explained], 4), heatmap));
        }
        if (json) Console.Out.WriteLine(JsonSerializer.Serialize(new ExplainSummary(modelPath, results), ExplainJson.Default.ExplainSummary));
        else
        {
            var table = new TextTable("image", "predicted", "explained", "heatmap");
            foreach (var x in results)
                table.Add(x.Image, string.Create(CultureInfo.InvariantCulture, $"{x.Predicted} {x.Probability * 100:0.0}%"),
                    string.Create(CultureInfo.InvariantCulture, $"{x.Explained} {x.ExplainedProbability * 100:0.0}%"), x.Heatmap);
            Console.Out.WriteLine(table.ToString().TrimEnd('\n'));
            Console.Error.WriteLine($"edge-prep: {results.Count} heatmap(s) in {outDir}{(failed > 0 ? $", {failed} image(s) failed" : "")}; red is where the evidence for the explained class lies");
        }
        return failed == 0 ? ExitCodes.Ok : ExitCodes.SomeInputsFailed;
    }
}
