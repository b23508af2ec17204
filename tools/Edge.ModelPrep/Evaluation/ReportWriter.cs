using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Cli;
using Edge.Host.Evaluation;
using Edge.ModelPrep.Training;
using Edge.Onnx.IO;
using ScottPlot;
using SkiaSharp;

namespace Edge.ModelPrep.Evaluation;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonNaming.Policy, WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(EvalReport))]
internal sealed partial class EvalJson : JsonSerializerContext;

/// <summary>
/// Writes an evaluation folder: report.md, metrics.json, confusion.png and, for a training run,
/// curves.png (loss and accuracy per epoch from metrics.csv, best epoch marked). Plots are ScottPlot 5.
/// </summary>
public static class ReportWriter
{
    /// <summary>
    /// ScottPlot finds no font of its own on a server without fontconfig's usual families: it is given
    /// DejaVu Sans (fonts-dejavu-core, installed by setup.sh), or its text would not be drawn. Once per process.
    /// </summary>
    private static readonly Lazy<bool> DejaVu = new(() =>
    {
        // Debian/Ubuntu, Fedora, Arch.
        var folder = new[] { "/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF" }
            .FirstOrDefault(f => File.Exists(Path.Combine(f, "DejaVuSans.ttf")));
        if (folder is null)
        {
            Console.Error.WriteLine("edge-prep: warning: DejaVu Sans is not installed (fonts-dejavu-core): the plots may have no text");
            return false;
        }
        Fonts.AddFontFile("DejaVu Sans", Path.Combine(folder, "DejaVuSans.ttf"), bold: false, italic: false);
        if (File.Exists(Path.Combine(folder, "DejaVuSans-Bold.ttf")))
            Fonts.AddFontFile("DejaVu Sans", Path.Combine(folder, "DejaVuSans-Bold.ttf"), bold: true, italic: false);
        Fonts.Default = "DejaVu Sans";
        return true;
    });

    public static string ToJson(EvalReport report) => JsonSerializer.Serialize(report, EvalJson.Default.EvalReport);

    public static IReadOnlyList<string> Write(string folder, EvalReport report, IReadOnlyList<EpochMetrics>? history = null, int? bestEpoch = null)
    {
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        var json = Path.Combine(folder, "metrics.json");
        AtomicFile.WriteText(json, ToJson(report));
        written.Add(json);
        var confusion = Path.Combine(folder, "confusion.png");
        AtomicFile.Write(confusion, ConfusionPng(report));
        written.Add(confusion);
        string? curves = null;
        if (history is { Count: > 0 })
        {
            curves = Path.Combine(folder, "curves.png");
            AtomicFile.Write(curves, CurvesPng(history, bestEpoch));
            written.Add(curves);
        }
        var md = Path.Combine(folder, "report.md");
        AtomicFile.WriteText(md, Markdown(report, curves is not null));
        written.Add(md);
        return written;
    }

    public static string Markdown(EvalReport r, bool hasCurves)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"# Evaluation of {Path.GetFileName(r.Model.TrimEnd('/'))}");
        sb.AppendLine();
        sb.AppendLine(inv, $"- model: `{r.Model}` ({r.Kind}{(r.Architecture is null ? "" : $", {r.Architecture}")})");
        sb.AppendLine(inv, $"- data: `{r.Data}`, {r.Images} images{(r.Skipped > 0 ? $" ({r.Skipped} unreadable, skipped)" : "")}");
        sb.AppendLine(inv, $"- **top-1 {r.Top1:0.00}%**, top-5 {r.Top5:0.00}%, macro F1 {r.MacroF1:0.0000}");
        if (r.Macs is { } macs) sb.AppendLine(inv, $"- {macs / 1e6:0.##} M multiply-accumulates per image");
        if (r.Latency is { } l) sb.AppendLine(inv, $"- ONNX Runtime latency, batch 1, {l.Threads} thread(s): median {l.P50Ms:0.###} ms, p90 {l.P90Ms:0.###} ms ({l.Runs} runs)");
        sb.AppendLine();
        sb.AppendLine("| class | support | precision | recall | F1 |");
        sb.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var c in r.PerClass)
            sb.AppendLine(inv, $"| {Md(c.Label)} | {c.Support} | {c.Precision:0.0000} | {c.Recall:0.0000} | {c.F1:0.0000} |");
        sb.AppendLine();
        sb.AppendLine("![confusion matrix](confusion.png)");
        if (hasCurves) sb.AppendLine("\n![training curves](curves.png)");
        return sb.ToString();
    }

    /// <summary>Row-normalised confusion matrix (true class per row) with the counts in the cells, as a ScottPlot heatmap.</summary>
    public static byte[] ConfusionPng(EvalReport r)
    {
        var k = r.Labels.Count;
        var fractions = new double[k, k];
        for (var t = 0; t < k; t++)
        {
            var rowSum = Math.Max(1, r.Confusion[t].Sum());
            for (var p = 0; p < k; p++) fractions[t, p] = (double)r.Confusion[t][p] / rowSum;
        }
        _ = DejaVu.Value;
        var plot = new Plot();
        var heat = plot.Add.Heatmap(fractions);
        heat.Colormap = new ScottPlot.Colormaps.CustomInterpolated([Colors.White, Color.FromHex("#08306B")]); // none: white, all: dark blue
        heat.ManualRange = new ScottPlot.Range(0, 1);
        // Cells centred on whole numbers (the extent names the outer cells' centres): column p at x = p,
        // row t at y = k - 1 - t (true class 0 on top).
        heat.Extent = new CoordinateRect(0, k - 1, 0, k - 1);
        if (k <= 20)
            for (var t = 0; t < k; t++)
                for (var p = 0; p < k; p++)
                    if (r.Confusion[t][p] > 0)
                    {
                        var label = plot.Add.Text(r.Confusion[t][p].ToString(CultureInfo.InvariantCulture), p, k - 1 - t);
                        label.LabelAlignment = Alignment.MiddleCenter;
                        label.LabelFontSize = k <= 12 ? 12 : 9;
                        label.LabelFontColor = fractions[t, p] > 0.5 ? Colors.White : Colors.Black;
                    }
        var positions = Enumerable.Range(0, k).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, [.. r.Labels.Select(l => Clip(l, 16))]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, [.. Enumerable.Range(0, k).Select(i => Clip(r.Labels[k - 1 - i], 20))]);
        plot.Axes.SetLimits(-0.5, k - 0.5, -0.5, k - 0.5);
        plot.Title("Confusion matrix (share of each true class)");
        plot.XLabel("predicted");
        plot.YLabel("true");
        plot.Add.ColorBar(heat);
        plot.Axes.Bottom.MinimumSize = 110; // room for the rotated class names below the axis title
        var side = Math.Clamp(120 + 48 * k, 480, 1400);
        return plot.GetImageBytes(side + 160, side + 60, ImageFormat.Png);
    }

    /// <summary>Loss and accuracy per epoch (train and validation), side by side, with the best epoch (the checkpoint kept as best) marked.</summary>
    public static byte[] CurvesPng(IReadOnlyList<EpochMetrics> history, int? bestEpoch = null)
    {
        _ = DejaVu.Value;
        var epochs = history.Select(m => (double)m.Epoch).ToArray();
        int? best = bestEpoch is > 0 ? bestEpoch : null;
        Plot Panel(string title, string unit, double[] train, double[] validation)
        {
            var plot = new Plot();
            var t = plot.Add.Scatter(epochs, train);
            t.LegendText = "train";
            t.MarkerSize = 5;
            if (validation.Any(double.IsFinite))
            {
                var v = plot.Add.Scatter(epochs, validation);
                v.LegendText = "validation";
                v.MarkerSize = 5;
            }
            if (best is not null)
            {
                var line = plot.Add.VerticalLine(best.Value);
                line.LinePattern = LinePattern.Dashed;
                line.Color = Colors.Gray;
                line.LegendText = $"best epoch ({best.Value})";
            }
            plot.Title(title);
            plot.XLabel("epoch");
            plot.YLabel(unit);
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
            // The legend goes outside the data area, so it never covers a curve.
            plot.ShowLegend(ScottPlot.Edge.Right);
            return plot;
        }
        var loss = Panel("Loss", "loss", [.. history.Select(m => m.TrainLoss)], [.. history.Select(m => m.ValLoss ?? double.NaN)]);
        var accuracy = Panel("Accuracy", "top-1 %", [.. history.Select(m => m.TrainAccuracy)], [.. history.Select(m => m.ValAccuracy ?? double.NaN)]);
        // Two 640x400 panels side by side, drawn straight onto one canvas.
        using var surface = SKSurface.Create(new SKImageInfo(1280, 400));
        surface.Canvas.Clear(SKColors.White);
        // Each panel clears what it draws on: clipped to its own half, it leaves the other one alone.
        foreach (var (plot, left) in new[] { (loss, 0), (accuracy, 640) })
        {
            surface.Canvas.Save();
            surface.Canvas.ClipRect(new SKRect(left, 0, left + 640, 400));
            plot.Render(surface.Canvas, new PixelRect(new Pixel(left, 0), new PixelSize(640, 400)));
            surface.Canvas.Restore();
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>Text from users' data (class names, paths) as Markdown shows it literally: no table breaks, links or HTML.</summary>
    internal static string Md(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s)
            sb.Append(c switch
            {
                '<' => "&lt;", '>' => "&gt;", '&' => "&amp;", '\n' or '\r' or '\t' => " ",
                '|' or '\\' or '`' or '*' or '_' or '[' or ']' or '(' or ')' or '#' or '!' => $"\\{c}",
                _ when char.IsControl(c) => " ",
                _ => c.ToString(),
            });
        return sb.ToString();
    }

    /// <summary>Text for a Markdown code span inside a table: backticks, pipes and line breaks cannot end it early.</summary>
    internal static string MdCode(string s) => new string([.. s.Select(c => c is '`' ? '\'' : char.IsControl(c) ? ' ' : c)]).Replace("|", "\\|");

    /// <summary>Top-1 against latency, a labelled point per model of the pipeline (ScottPlot scatter).</summary>
    public static byte[] AccuracyLatencyPng(IReadOnlyList<Pipeline.PipelinePoint> points)
    {
        _ = DejaVu.Value;
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (var i = 0; i < points.Count; i++)
        {
            var p = points[i];
            var marker = plot.Add.Marker(p.LatencyP50Ms, p.Top1);
            marker.MarkerSize = 12;
            marker.Color = palette.GetColor(i);
            marker.LegendText = string.Create(CultureInfo.InvariantCulture, $"{p.Stage} {p.Precision}: {p.Top1:0.00}%, {p.LatencyP50Ms:0.###} ms");
        }
        plot.Title("Accuracy against latency (ONNX Runtime, 1 thread, batch 1)");
        plot.XLabel("median latency (ms)");
        plot.YLabel("top-1 (%)");
        var xs = points.Select(p => p.LatencyP50Ms).ToArray();
        var ys = points.Select(p => p.Top1).ToArray();
        if (xs.Length > 0)
        {
            var (x0, x1, y0, y1) = (xs.Min(), xs.Max(), ys.Min(), ys.Max());
            var dx = Math.Max(0.05, (x1 - x0) * 0.15);
            var dy = Math.Max(0.5, (y1 - y0) * 0.15);
            plot.Axes.SetLimits(Math.Max(0, x0 - dx), x1 + dx, y0 - dy, Math.Min(100, y1 + dy));
        }
        plot.ShowLegend(ScottPlot.Edge.Right); // beside the data, never over a point
        return plot.GetImageBytes(900, 480, ImageFormat.Png);
    }

    private static string Clip(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";
}
