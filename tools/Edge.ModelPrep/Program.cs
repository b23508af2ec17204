using System.CommandLine;
using Edge.ModelPrep.Commands;

namespace Edge.ModelPrep;

public static class Program
{
    public static int Main(string[] args)
    {
        Interop.NativeMemory.TuneForTraining();
        var root = new RootCommand("edge-prep: prepare image classifiers for Edge devices")
        {
            TrainCommands.Train(),
            TrainCommands.Distill(),
            TrainCommands.Export(),
            TrainCommands.Eval(),
            QuantizeCommand.Create(),
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) Console.Error.WriteLine($"edge-prep: {e.Message}");
            return 2;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("EDGE_PREP_DEBUG") != "1")
        {
            // Expected failures are reported by each command; anything else is still one line, with the way to the details.
            var message = e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException ? Core.Inference.Classifier.OneLine(e.Message) : e.Message.ReplaceLineEndings(" ");
            Console.Error.WriteLine($"edge-prep: error: {(e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException ? "ONNX Runtime: " : $"unexpected {e.GetType().Name}: ")}{message} (set EDGE_PREP_DEBUG=1 for the stack trace)");
            return 1;
        }
    }
}
