using Edge.Cli;
using Edge.Core.Inference;

namespace Edge.Cli.Tests;

public class CommandGuardTests
{
    private static (int Code, string Err) Run(Func<int> body, string tool = "edge-prep")
    {
        var err = new StringWriter();
        var code = new CommandGuard(tool, err).Run(body);
        return (code, err.ToString());
    }

    [Test]
    public void AUsersMistakeIsOneLineWithItsExitCode()
    {
        var r = Run(() => throw new CliError("--lr NaN: expected a finite number", ExitCodes.Usage));
        Assert.That(r, Is.EqualTo((ExitCodes.Usage, "edge-prep: error: --lr NaN: expected a finite number" + Environment.NewLine)));
        // A lower layer's typed failure reads the same, with the general failure code.
        r = Run(() => throw new ModelLoadException("'m.onnx' is not an ONNX model"), "edged");
        Assert.That(r, Is.EqualTo((ExitCodes.Failure, "edged: error: 'm.onnx' is not an ONNX model" + Environment.NewLine)));
        r = Run(() => throw new FileNotFoundException("could not find 'x'"));
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Failure));
        // Work on another thread that fails with a user's mistake is said as that mistake.
        r = Run(() => { Task.Run(() => throw new CliError("--data: no images")).Wait(); return 0; });
        Assert.That(r.Err, Is.EqualTo("edge-prep: error: --data: no images" + Environment.NewLine));
    }

    [Test]
    public void ABugIsNotPassedOffAsAUserErrorButStillOneLine()
    {
        // An ArgumentException is a caller's bug (edge-prep once took it for the user's mistake).
        Environment.SetEnvironmentVariable("EDGE_PREP_DEBUG", null);
        var r = Run(() => throw new ArgumentException("batch must be 1..8\nsecond line"));
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Failure));
        Assert.That(r.Err, Is.EqualTo("edge-prep: error: unexpected ArgumentException: batch must be 1..8 second line (set EDGE_PREP_DEBUG=1 for the stack trace)" + Environment.NewLine));
    }

    [Test]
    public void WithTheDebugVariableABugKeepsItsStackTrace()
    {
        var guard = new CommandGuard("edged", new StringWriter());
        Assert.That(guard.DebugVariable, Is.EqualTo("EDGED_DEBUG"));
        Environment.SetEnvironmentVariable("EDGED_DEBUG", "1");
        try
        {
            Assert.That(() => guard.Run(() => throw new InvalidOperationException("bug")), Throws.InvalidOperationException);
            // A user's mistake is still one line: the variable is for bugs.
            Assert.That(guard.Run(() => throw new CliError("bad")), Is.EqualTo(ExitCodes.Failure));
        }
        finally
        {
            Environment.SetEnvironmentVariable("EDGED_DEBUG", null);
        }
    }
}
