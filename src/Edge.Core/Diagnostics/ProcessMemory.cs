namespace Edge.Core.Diagnostics;

/// <summary>This process's memory as Linux reports it in /proc/self/status, in MiB (NaN where unavailable).</summary>
public static class ProcessMemory
{
    // Read into a reused buffer and parsed as bytes: benchmarks sample this many times a second and
    // must not measure their own garbage.
    [ThreadStatic] private static byte[]? _threadBuffer;

    /// <summary>Resident memory now (VmRSS).</summary>
    public static double ResidentMib() => Read("VmRSS:"u8);

    /// <summary>Peak resident memory (VmHWM).</summary>
    public static double PeakMib() => Read("VmHWM:"u8);

    /// <summary>Resets the peak to the current resident memory (Linux 4.0+: /proc/self/clear_refs), so a step's own peak can be measured; false where not possible.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static double Read(ReadOnlySpan<byte> field)
    {
        try
        {
            var buffer = _threadBuffer ??= new byte[8192];
            int length;
            using (var handle = File.OpenHandle("/proc/self/status"))
                length = RandomAccess.Read(handle, buffer, 0);
            var text = buffer.AsSpan(0, length);
            var at = text.IndexOf(field);
            if (at < 0) return double.NaN;
            long kib = 0;
            var digits = false;
            for (var i = at + field.Length; i < text.Length && text[i] != (byte)'\n'; i++)
            {
                var c = text[i];
                if (c is >= (byte)'0' and <= (byte)'9') { kib = kib * 10 + (c - '0'); digits = true; }
                else if (digits) break;
            }
            return digits ? Math.Round(kib / 1024.0, 1) : double.NaN;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return double.NaN;
        }
    }
}
