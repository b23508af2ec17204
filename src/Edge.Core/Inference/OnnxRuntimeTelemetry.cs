using Edge.Core.Interop;

namespace Edge.Core.Inference;

/// <summary>
/// ONNX Runtime's Linux build (1.31) collects usage telemetry: it writes a device id and an event database under
/// ~/.cache/Microsoft/DeveloperTools/.onnxruntime and uploads to events.data.microsoft.com, unless
/// ORT_DISABLE_TELEMETRY=1 is in the native environment when it starts. Edge sends nothing off the device, so
/// both commands call <see cref="Disable"/> first thing, before any ONNX Runtime code runs.
/// </summary>
public static class OnnxRuntimeTelemetry
{
    public const string Variable = "ORT_DISABLE_TELEMETRY";

    public static void Disable()
    {
        NativeEnvironment.Set(Variable, "1");
        Environment.SetEnvironmentVariable(Variable, "1"); // and for child processes started by .NET
    }
}
