using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Edge.Core.Inference;

/// <summary>
/// Chooses which native ONNX Runtime the process uses. A Jetson user points this at an ONNX Runtime
/// built with CUDA/TensorRT; by default the library shipped beside the binary is used. Must be
/// called before the first session is created.
/// </summary>
public static class OnnxRuntimeLibrary
{
    private static IntPtr _handle;
    private static bool _configured;
    private static readonly Lock Gate = new();

    /// <summary>The library in use: the configured path, or null for the bundled one.</summary>
    public static string? LoadedPath { get; private set; }

    /// <summary>Loads <paramref name="path"/> for every later ONNX Runtime call. If it cannot be loaded, says so once and keeps the bundled library.</summary>
    public static bool Configure(string? path, ILogger? logger = null)
    {
        if (string.IsNullOrEmpty(path)) return false;
        lock (Gate)
        {
            if (_configured) return _handle != IntPtr.Zero;
            _configured = true;
            if (!NativeLibrary.TryLoad(path, out _handle))
            {
                logger?.LogWarning("Cannot load ONNX Runtime from '{Path}' (missing, wrong architecture or missing dependencies); using the bundled CPU library", path);
                return false;
            }
            LoadedPath = path;
            NativeLibrary.SetDllImportResolver(typeof(OrtEnv).Assembly, Resolve);
            return true;
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name is "onnxruntime" or "libonnxruntime" or "libonnxruntime.so" ? _handle : IntPtr.Zero;
}
