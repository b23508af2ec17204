using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Edge.Cli;
using Edge.Core.Inference;
using Edge.Onnx.Metadata;
using Edge.Onnx.Model;

namespace Edge.Daemon.Cli;

/// <summary><c>edged inspect model.onnx [--layers] [--json]</c>: what the model is made of, without running it.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("model") { Description = "ONNX model file" };
        var json = new Option<bool>("--json") { Description = "Write a JSON report to standard output" };
        var layers = new Option<bool>("--layers") { Description = "List every Conv/Gemm/MatMul layer with its MACs" };
        var command = new Command("inspect", "Show a model's signature, operators, parameters, MACs and Edge metadata");
        command.Arguments.Add(path);
        command.Options.Add(json);
        command.Options.Add(layers);
        command.SetAction(r => Program.Guard(() => Run(r.GetValue(path)!, r.GetValue(json), r.GetValue(layers))));
        return command;
    }

    private static int Run(string path, bool json, bool showLayers)
    {
        if (!File.Exists(path)) throw new CliError($"model file '{path}' does not exist");
        Edge.Onnx.Protos.ModelProto proto;
        try { proto = OnnxModelFile.Load(path); }
        catch (OnnxFormatException e) { throw new CliError(e.Message); }
        var report = ModelInspector.Inspect(proto);
        ModelDescriptor? descriptor = null;
        string? runnableError = null;
        try { descriptor = ModelDescriber.Describe(proto, path); }
        catch (ModelLoadException e) { runnableError = e.Message; }

        var jsonReport = new JsonInspectReport(path, new FileInfo(path).Length, report.Producer, report.IrVersion, report.Opsets,
            [.. report.Inputs.Select(Sig)], [.. report.Outputs.Select(Sig)], report.Operators, report.NodeCount,
            report.Parameters, report.ParameterBytes, report.TotalMacs, report.LayersWithUnknownMacs,
            [.. report.Layers.Select(l => new JsonLayer(l.Name, l.OpType, l.OutputShape, l.Macs, l.Parameters))],
            report.Metadata,
            descriptor is null ? null : Pre(descriptor),
            descriptor?.Labels, descriptor?.Output.Name(), runnableError,
            Http.Int8WeightsSummary.Of(report.Int8Weights, exactHere: Int8Kernels.Exact(report.Int8Weights, Int8Kernels.SaturateEightBitCodes)));
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(jsonReport, CliJsonContext.Default.JsonInspectReport));
            return ExitCodes.Ok;
        }
        Console.Out.Write(Text(report, jsonReport, descriptor, showLayers));
        return ExitCodes.Ok;
    }

    private static JsonSignature Sig(TensorSignature s) => new(s.Name, s.ElementType, s.Dims);

    private static JsonPreprocessing Pre(ModelDescriptor d)
    {
        var p = d.Preprocessing;
        return new JsonPreprocessing(p.Width, p.Height, p.Color.Name(), p.Resize.Name(), p.CropFraction, p.Scale, p.Mean, p.Std,
            p.LetterboxFill, d.Layout.ToString().ToUpperInvariant());
    }

    /// <summary>A count with an SI prefix: "60", "3.475 M".</summary>
    internal static string Count(long n) => Unit(n, "").TrimEnd();

    /// <summary>A count with its unit: "60 MACs", "300.774 MMACs", "13.942 MB".</summary>
    internal static string Unit(long n, string unit)
    {
        var (value, prefix) = n switch
        {
            >= 1_000_000_000 => (n / 1e9, "G"),
            >= 1_000_000 => (n / 1e6, "M"),
            >= 1_000 => (n / 1e3, "k"),
            _ => ((double)n, ""),
        };
        return value.ToString("0.###", CultureInfo.InvariantCulture) + " " + prefix + unit;
    }

    private static string Text(ModelReport r, JsonInspectReport j, ModelDescriptor? d, bool showLayers)
    {
        var sb = new StringBuilder();
        sb.Append($"model       {j.Path} ({Unit(j.FileBytes, "B")})\n");
        sb.Append($"producer    {(r.Producer.Length > 0 ? r.Producer : "(none)")}, IR {r.IrVersion}, opsets {string.Join(", ", r.Opsets.Select(o => $"{o.Key} {o.Value}"))}\n");
        foreach (var i in r.Inputs) sb.Append($"input       {i}\n");
        foreach (var o in r.Outputs) sb.Append($"output      {o}\n");
        sb.Append($"parameters  {Count(r.Parameters)} ({Unit(r.ParameterBytes, "B")})\n");
        sb.Append($"compute     {Unit(r.TotalMacs, "MACs")} per image");
        if (r.LayersWithUnknownMacs > 0) sb.Append($" (+ {r.LayersWithUnknownMacs} layer(s) whose shapes could not be inferred)");
        sb.Append('\n');
        sb.Append($"nodes       {r.NodeCount}: {string.Join(", ", r.Operators.Select(o => $"{o.Key} {o.Value}"))}\n");
        if (r.Int8Weights.Tensors > 0)
            sb.Append($"int8        {r.Int8Weights.Tensors} weight tensors, codes within ±{r.Int8Weights.MaxMagnitude} ({r.Int8Weights.Bits}-bit): ")
              .Append(!r.Int8Weights.NeedVnniOnX86 ? "exact on every CPU\n"
                  : j.Int8Weights.ExactHere ? "exact on ARM and x86 with VNNI (this CPU); x86 without VNNI saturates\n"
                  : "this x86 CPU has no VNNI and saturates codes beyond ±64; quantize again with 7-bit weights (edge-prep quantize)\n");
        if (d is not null)
        {
            sb.Append($"preprocess  {d.Preprocessing} ({d.Layout.ToString().ToUpperInvariant()})\n");
            sb.Append($"output      {d.Output.Name()}\n");
            var shown = d.Labels.Take(20).ToList();
            sb.Append($"labels      {d.Labels.Count} from {d.LabelSource}: {string.Join(", ", shown)}{(d.Labels.Count > shown.Count ? ", ..." : "")}\n");
            if (d.Defaulted.Count > 0) sb.Append($"defaults    {string.Join(", ", d.Defaulted)} not stated by the model (documented defaults apply)\n");
        }
        else sb.Append($"runnable    no: {j.RunnableError}\n");
        var extra = r.Metadata.Where(kv => kv.Key != ModelMetadataKeys.Labels).ToList();
        if (extra.Count > 0)
        {
            sb.Append("metadata\n");
            foreach (var (k, v) in extra) sb.Append($"  {k} = {(v.Length > 100 ? v[..100] + "..." : v)}\n");
        }
        if (showLayers && r.Layers.Count > 0)
        {
            var t = new TextTable("layer", "op", "output", "MACs", "params").AlignRight(3, 4);
            foreach (var l in r.Layers)
                t.Add(l.Name, l.OpType, l.OutputShape is null ? "?" : "[" + string.Join(",", l.OutputShape) + "]",
                    l.Macs is { } m ? Count(m) : "?", Count(l.Parameters));
            sb.Append('\n').Append(t);
        }
        return sb.ToString();
    }
}
