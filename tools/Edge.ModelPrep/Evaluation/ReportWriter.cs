using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Cli;
using Edge.Host.Evaluation;
using Edge.ModelPrep.Training;
using Edge.Onnx.IO;
using SkiaSharp;

namespace Edge.ModelPrep.Evaluation;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonNaming.Policy, WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(EvalReport))]
internal sealed partial class EvalJson : JsonSerializerContext;

/// <summary>
/// Writes an evaluation folder: report.md, metrics.json, confusion.png and, for a training run,
/// curves.png (loss and accuracy per epoch from metrics.csv). Plots are drawn with SkiaSharp.
/// </summary>
public static class ReportWriter
{
    private static readonly string[] FontCandidates =
        ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf"];

    public static string ToJson(EvalReport report) => JsonSerializer.Serialize(report, EvalJson.Default.EvalReport);

    public static IReadOnlyList<string> Write(string folder, EvalReport report, IReadOnlyList<EpochMetrics>? history = null)
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
            AtomicFile.Write(curves, CurvesPng(history));
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
            sb.AppendLine(inv, $"| {c.Label} | {c.Support} | {c.Precision:0.0000} | {c.Recall:0.0000} | {c.F1:0.0000} |");
        sb.AppendLine();
        sb.AppendLine("![confusion matrix](confusion.png)");
        if (hasCurves) sb.AppendLine("\n![training curves](curves.png)");
        return sb.ToString();
    }

    private static SKFont Font(float size)
    {
        var file = FontCandidates.FirstOrDefault(File.Exists);
        var typeface = file is not null ? SKTypeface.FromFile(file) : SKTypeface.Default;
        return new SKFont(typeface, size);
    }

    private static byte[] Encode(SKSurface surface)
    {
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>Row-normalised confusion matrix (true class per row), with counts in the cells.</summary>
    public static byte[] ConfusionPng(EvalReport r)
    {
        var k = r.Labels.Count;
        var cell = k <= 12 ? 48 : Math.Max(8, 576 / k);
        const int left = 150, top = 60, bottom = 20, right = 20;
        var width = left + k * cell + right;
        var height = top + k * cell + bottom + 120;
        using var surface = SKSurface.Create(new SKImageInfo(width, height));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var font = Font(12);
        using var small = Font(Math.Min(11, cell / 3f));
        using var paint = new SKPaint { IsAntialias = true };
        using var text = new SKPaint { IsAntialias = true, Color = SKColors.Black };
        canvas.DrawText("confusion matrix (rows: true, columns: predicted)", left, 24, SKTextAlign.Left, font, text);
        for (var t = 0; t < k; t++)
        {
            var rowSum = Math.Max(1, r.Confusion[t].Sum());
            for (var p = 0; p < k; p++)
            {
                var f = (float)r.Confusion[t][p] / rowSum;
                paint.Color = new SKColor((byte)(255 - 200 * f), (byte)(255 - 140 * f), 255);
                canvas.DrawRect(left + p * cell, top + t * cell, cell - 1, cell - 1, paint);
                if (cell >= 24 && r.Confusion[t][p] > 0)
                {
                    text.Color = f > 0.5 ? SKColors.White : SKColors.Black;
                    canvas.DrawText(r.Confusion[t][p].ToString(CultureInfo.InvariantCulture), left + p * cell + cell / 2f, top + t * cell + cell / 2f + 4, SKTextAlign.Center, small, text);
                }
            }
            text.Color = SKColors.Black;
            canvas.DrawText(Clip(r.Labels[t], 20), left - 6, top + t * cell + cell / 2f + 4, SKTextAlign.Right, font, text);
        }
        // Column labels, rotated, below the matrix.
        for (var p = 0; p < k; p++)
        {
            canvas.Save();
            canvas.Translate(left + p * cell + cell / 2f + 4, top + k * cell + 8);
            canvas.RotateDegrees(60);
            canvas.DrawText(Clip(r.Labels[p], 16), 0, 0, SKTextAlign.Left, font, text);
            canvas.Restore();
        }
        return Encode(surface);
    }

    /// <summary>Two panels: loss (train, validation) and accuracy (train, validation) per epoch.</summary>
    public static byte[] CurvesPng(IReadOnlyList<EpochMetrics> history)
    {
        const int w = 900, h = 360, pad = 50;
        using var surface = SKSurface.Create(new SKImageInfo(w, h));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var font = Font(12);
        var epochs = history.Select(m => (double)m.Epoch).ToArray();
        Panel(canvas, font, new SKRect(pad, 30, w / 2f - 20, h - pad), "loss", epochs,
            [("train", history.Select(m => m.TrainLoss).ToArray(), SKColors.SteelBlue), ("validation", history.Select(m => m.ValLoss ?? double.NaN).ToArray(), SKColors.OrangeRed)]);
        Panel(canvas, font, new SKRect(w / 2f + pad, 30, w - 20, h - pad), "accuracy %", epochs,
            [("train", history.Select(m => m.TrainAccuracy).ToArray(), SKColors.SteelBlue), ("validation", history.Select(m => m.ValAccuracy ?? double.NaN).ToArray(), SKColors.OrangeRed)]);
        return Encode(surface);
    }

    private static void Panel(SKCanvas canvas, SKFont font, SKRect area, string title, double[] x, (string Name, double[] Y, SKColor Color)[] series)
    {
        using var axis = new SKPaint { Color = SKColors.Gray, StrokeWidth = 1, IsAntialias = true, Style = SKPaintStyle.Stroke };
        using var text = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        var all = series.SelectMany(s => s.Y).Where(double.IsFinite).ToArray();
        if (all.Length == 0) return;
        double y0 = all.Min(), y1 = all.Max();
        if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
        double x0 = x.Min(), x1 = Math.Max(x.Max(), x0 + 1);
        float Px(double v) => area.Left + (float)((v - x0) / (x1 - x0)) * area.Width;
        float Py(double v) => area.Bottom - (float)((v - y0) / (y1 - y0)) * area.Height;
        canvas.DrawRect(area, axis);
        canvas.DrawText(title, area.Left, area.Top - 10, SKTextAlign.Left, font, text);
        canvas.DrawText(y1.ToString("0.###", CultureInfo.InvariantCulture), area.Left - 4, area.Top + 10, SKTextAlign.Right, font, text);
        canvas.DrawText(y0.ToString("0.###", CultureInfo.InvariantCulture), area.Left - 4, area.Bottom, SKTextAlign.Right, font, text);
        canvas.DrawText($"epoch {x0:0}", area.Left, area.Bottom + 16, SKTextAlign.Left, font, text);
        canvas.DrawText($"{x1:0}", area.Right, area.Bottom + 16, SKTextAlign.Right, font, text);
        var legendY = area.Top + 16;
        foreach (var (name, y, color) in series)
        {
            using var line = new SKPaint { Color = color, StrokeWidth = 2, IsAntialias = true, Style = SKPaintStyle.Stroke };
            var previous = -1;
            for (var i = 0; i < x.Length; i++)
            {
                if (!double.IsFinite(y[i])) continue;
                if (previous >= 0) canvas.DrawLine(Px(x[previous]), Py(y[previous]), Px(x[i]), Py(y[i]), line);
                canvas.DrawCircle(Px(x[i]), Py(y[i]), 2.5f, line);
                previous = i;
            }
            if (previous < 0) continue;
            canvas.DrawLine(area.Right - 110, legendY - 4, area.Right - 90, legendY - 4, line);
            canvas.DrawText(name, area.Right - 85, legendY, SKTextAlign.Left, font, text);
            legendY += 16;
        }
    }

    private static string Clip(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";
}
