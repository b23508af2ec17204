using System.Runtime.InteropServices;

namespace Edge.Core.Interop;

/// <summary>
/// The C library's environment, which native libraries read with getenv(3). .NET's
/// Environment.SetEnvironmentVariable changes only .NET's own copy on Linux, so a setting meant for a
/// native library has to go through setenv(3). Call only at start, before other threads exist.
/// </summary>
internal static partial class NativeEnvironment
{
    public static bool Set(string name, string value) => OperatingSystem.IsLinux() && SetEnv(name, value, 1) == 0;

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
