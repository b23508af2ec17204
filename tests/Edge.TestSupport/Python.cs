using System.Diagnostics;
using NUnit.Framework;

namespace Edge.TestSupport;

/// <summary>
/// Runs reference computations in Debian's Python (/usr/bin/python3 with python3-onnx, numpy, PIL,
/// torch): independent implementations to check ours against. Never used by the product.
/// </summary>
public static class Python
{
    public const string Interpreter = "/usr/bin/python3";

    /// <summary>Runs <paramref name="script"/> with <paramref name="args"/> (as sys.argv[1:]); returns stdout, throws with stderr on failure.</summary>
    public static string Run(string script, params string[] args)
    {
        Needs.Check(Needs.Python);
        if (!File.Exists(Interpreter)) Assert.Fail($"{Interpreter} is missing: run tools/setup.sh");
        var psi = new ProcessStartInfo(Interpreter)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-");
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        psi.Environment["OMP_NUM_THREADS"] = "1";
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(script);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(true);
            Assert.Fail("python reference timed out");
        }
        if (p.ExitCode != 0) Assert.Fail($"python reference failed ({p.ExitCode}):\n{stderr.Result}");
        return stdout.Result;
    }

    /// <summary>Asserts that ONNX's own checker accepts the file (full_check: shape inference too).</summary>
    public static void CheckModel(string path)
    {
        var output = Run("""
            import sys, onnx
            m = onnx.load(sys.argv[1])
            onnx.checker.check_model(m, full_check=True)
            print("ok")
            """, path);
        Assert.That(output.Trim(), Is.EqualTo("ok"));
    }

    /// <summary>Reads a float32 array written by numpy's tofile().</summary>
    public static float[] ReadFloats(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var floats = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, floats, 0, bytes.Length);
        return floats;
    }
}
