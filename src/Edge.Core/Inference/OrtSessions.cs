using Microsoft.ML.OnnxRuntime;
using OrtSessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;

namespace Edge.Core.Inference;

/// <summary>The one place where Edge sets up ONNX Runtime session options.</summary>
public static class OrtSessions
{
    /// <summary>Options with Edge's defaults: all graph optimisations, sequential, no spinning unless asked.</summary>
    public static OrtSessionOptions Options(int intraOpThreads, bool allowSpinning = false, string? optimizedModelPath = null)
    {
        var so = new OrtSessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            // ONNX Runtime would print its own error lines (with colour codes) to stderr; Edge reports failures itself, once.
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
        };
        var spin = allowSpinning ? "1" : "0";
        so.AddSessionConfigEntry("session.intra_op.allow_spinning", spin);
        so.AddSessionConfigEntry("session.inter_op.allow_spinning", spin);
        if (optimizedModelPath is not null) so.OptimizedModelFilePath = optimizedModelPath;
        return so;
    }

    public static InferenceSession Create(byte[] model, int intraOpThreads, string? optimizedModelPath = null)
    {
        using var so = Options(intraOpThreads, false, optimizedModelPath);
        return new InferenceSession(model, so);
    }
}
