namespace Edge.Daemon.Tests;

/// <summary>Waiting for something another thread does (a pipeline, a source), with a bound: a test that hangs fails, naming what it waited for.</summary>
internal static class Eventually
{
    public static async Task Until(Func<bool> condition, string what, int seconds = 20)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > until) Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }
}
