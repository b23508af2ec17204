using System.Globalization;
using System.Text;
using Edge.ModelPrep.Evaluation;

namespace Edge.ModelPrep.Pipeline;

/// <summary>The pipeline's report.md: one table of every stage's model, the accuracy-vs-latency plot, Grad-CAM of the final network, and how it was made.</summary>
public static class PipelineReport
{
    public static string Markdown(string data, string evalData, PipelineConfig config, IReadOnlyList<PipelineStage> stages,
        IReadOnlyList<PipelinePoint> points, string final, IReadOnlyList<(string Class, string File)> cams)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("# edge-prep pipeline");
        sb.AppendLine();
        sb.AppendLine(inv, $"- training data: `{ReportWriter.MdCode(data)}`; evaluated on `{ReportWriter.MdCode(evalData)}`");
        sb.AppendLine(inv, $"- final model: `{ReportWriter.MdCode(final)}`");
        sb.AppendLine("- latency: ONNX Runtime on this machine, batch 1, 1 thread, median of 200 runs");
        sb.AppendLine();
        sb.AppendLine("| stage | precision | top-1 | MACs | file size | latency (ms) |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (var p in points)
            sb.AppendLine(inv, $"| {p.Stage} | {p.Precision} | {p.Top1:0.00}% | {(p.Macs is { } m ? $"{m / 1e6:0.##} M" : "")} | {(p.Bytes is { } b ? $"{b / 1024.0:0} KiB" : "")} | {p.LatencyP50Ms:0.###} |");
        sb.AppendLine();
        sb.AppendLine("![accuracy against latency](accuracy-latency.png)");
        if (cams.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("## Grad-CAM of the final network");
            sb.AppendLine();
            sb.AppendLine("Red is where the network found the evidence for its answer (its FP32 checkpoint).");
            sb.AppendLine();
            foreach (var (c, f) in cams) sb.AppendLine(inv, $"- {ReportWriter.Md(c)}<br>![{ReportWriter.Md(c)}]({f})");
        }
        sb.AppendLine();
        sb.AppendLine("## Stages");
        sb.AppendLine();
        sb.AppendLine("| stage | status | minutes | command |");
        sb.AppendLine("|---|---|---:|---|");
        foreach (var s in stages) sb.AppendLine(inv, $"| {s.Stage} | {s.Status} | {s.Seconds / 60:0.0} | `{ReportWriter.MdCode(s.Command)}` |");
        sb.AppendLine();
        sb.AppendLine(inv, $"Settings: teacher {ReportWriter.Md(config.TeacherArch ?? "")} ({config.TeacherEpochs} epochs), student {ReportWriter.Md(config.StudentArch)}-{config.StudentWidth} ({config.StudentEpochs} epochs), pruned to {ReportWriter.Md(config.PruneTarget)} ({config.PruneEpochs} epochs), seed {config.Seed}; all in settings.json.");
        return sb.ToString();
    }
}
