using System.CommandLine;
using Edge.Cli;
using Edge.ModelPrep.Commands;

namespace Edge.ModelPrep;

public static class Program
{
    /// <summary>edge-prep's side of the one error scheme both tools share (<see cref="CommandGuard"/>).</summary>
    internal static CommandGuard Errors { get; } = new("edge-prep");

    public static int Main(string[] args)
    {
        Edge.Core.Inference.OnnxRuntimeTelemetry.Disable(); // before any ONNX Runtime code: nothing leaves the machine
        Interop.NativeMemory.TuneForTraining();
        var parsed = Root().Parse(args);
        if (parsed.Errors.Count > 0)
        {
            return Errors.Fail($"{string.Join("; ", parsed.Errors.Select(e => e.Message))} (see 'edge-prep --help')", ExitCodes.Usage);
        }
        // Each command runs inside Errors.Run; what escapes here is a bug in the parser's own handling.
        return Errors.Run(() => parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
    }

    /// <summary>Runs one edge-prep command line in this process (the pipeline's stages); its exit code.</summary>
    internal static int Invoke(IReadOnlyList<string> args)
    {
        var parsed = Root().Parse(args);
        if (parsed.Errors.Count > 0) return Errors.Fail($"{string.Join("; ", parsed.Errors.Select(e => e.Message))}", ExitCodes.Usage);
        return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }

    private static RootCommand Root() =>
        new("edge-prep: prepare image classifiers for Edge devices")
        {
            TrainCommands.Train(),
            TrainCommands.Distill(),
            TrainCommands.Export(),
            TrainCommands.Eval(),
            QuantizeCommand.Create(),
            ExplainCommand.Create(),
            PruneCommand.Create(),
            QatCommand.Create(),
            PipelineCommand.Create(),
        };
}
