namespace Edge.Daemon.Cli;

/// <summary>Where the shipped default model and samples are: beside the binary (published or built).</summary>
internal static class DefaultPaths
{
    public const string DefaultModelFile = "colors.onnx";

    public static string ModelsDirectory => Path.Combine(AppContext.BaseDirectory, "models");

    public static string DefaultModel => Path.Combine(ModelsDirectory, DefaultModelFile);

    public static string Samples => Path.Combine(ModelsDirectory, "samples");
}
