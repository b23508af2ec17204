using Edge.Cli;
using Edge.Core.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Cli.Tests;

public class ProgressLinesTests
{
    [Test]
    public void SaysAtMostOneLineAnIntervalAndTheEndOfAStepItShowed()
    {
        var clock = new FakeTimeProvider();
        var output = new StringWriter();
        var progress = new ProgressLines("edge-prep", output, clock);
        progress.Report(new StepProgress("calibrating", 0, 100));
        for (var i = 1; i < 100; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(100)); // 9.9 s of work: a line every 2 s, not 99
            progress.Report(new StepProgress("calibrating", i, 100));
        }
        progress.Report(new StepProgress("calibrating", 100, 100));
        progress.Report(new StepProgress("evaluating", 1, 0));
        var lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Is.EqualTo(new[]
        {
            "edge-prep: calibrating 20/100 (20%)", // the first line comes after 2 s of work
            "edge-prep: calibrating 40/100 (40%)",
            "edge-prep: calibrating 60/100 (60%)",
            "edge-prep: calibrating 80/100 (80%)",
            "edge-prep: calibrating 100/100 (100%)", // a step that was shown is seen to its end
        }), "the evaluating step lasted no time: nothing to say");
        clock.Advance(TimeSpan.FromSeconds(3));
        progress.Report(new StepProgress("evaluating", 2, 0));
        Assert.That(output.ToString(), Does.EndWith("edge-prep: evaluating 2" + Environment.NewLine), "an unknown total prints the count alone");
    }

    [Test]
    public void ShortWorkSaysNothing()
    {
        var clock = new FakeTimeProvider();
        var output = new StringWriter();
        var progress = new ProgressLines("edged", output, clock);
        for (var i = 0; i <= 10; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(50));
            progress.Report(new StepProgress("classifying", i, 10));
        }
        Assert.That(output.ToString(), Is.Empty);
    }
}
