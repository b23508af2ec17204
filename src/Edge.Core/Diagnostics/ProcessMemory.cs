using System.Globalization;

namespace Edge.Core.Diagnostics;

/// <summary>This process's memory as Linux reports it in /proc/self/status, in MiB (NaN where unavailable).</summary>
public static class ProcessMemory
{
    /// <summary>Resident memory now (VmRSS).</summary>
    public static double ResidentMiB() => Read("VmRSS:");

    /// <summary>Peak resident memory (VmHWM).</summary>
    public static double PeakMiB() => Read("VmHWM:");

    private static double Read(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return Math.Round(double.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024, 1);
        }
        catch (IOException) { }
        return double.NaN;
    }
}
