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
        return parsed.Invoke();
    }
}
