using Edge.Daemon.Decisions;

namespace Edge.Daemon.Tests;

/// <summary>
/// Decisions on scripted score sequences, each expected state worked out by hand from the rule's definition:
/// unknown below a score or margin, per-class thresholds, N consecutive agreeing results, hysteresis, minimum time in a state.
/// </summary>
public class StateDeciderTests
{
    private static readonly string[] Labels = ["closed", "open", "ajar"];
    private static readonly DateTimeOffset T0 = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Feeds score rows one per second and returns the state after each ("-" = undecided).</summary>
    private static string[] Run(DecisionOptions options, params float[][] rows)
    {
        var decider = new StateDecider(options, Labels);
        return [.. rows.Select((r, i) => { decider.Update(r, T0.AddSeconds(i)); return decider.State ?? "-"; })];
    }

    private static float[] S(float closed, float open, float ajar) => [closed, open, ajar];

    [Test]
    public void WithoutRulesEveryResultIsItsOwnState()
    {
        Assert.That(Run(new DecisionOptions { Consecutive = 1 }, S(0.6f, 0.3f, 0.1f), S(0.2f, 0.7f, 0.1f), S(0.2f, 0.3f, 0.5f)),
            Is.EqualTo(new[] { "closed", "open", "ajar" }));
    }

    [Test]
    public void ALowTopScoreOrALowMarginIsUnknown()
    {
        var o = new DecisionOptions { Consecutive = 1, MinScore = 0.6f, MinMargin = 0.2f };
        // 0.7 leads by 0.5: closed. 0.55 < 0.6: unknown. 0.61 leads 0.39 by 0.22: open. 0.65 leads 0.5 by 0.15 < 0.2: unknown.
        Assert.That(Run(o, S(0.7f, 0.2f, 0.1f), S(0.55f, 0.25f, 0.2f), S(0f, 0.61f, 0.39f), S(0.5f, 0.65f, 0f)),
            Is.EqualTo(new[] { "closed", "unknown", "open", "unknown" }));
        var decider = new StateDecider(o, Labels);
        Assert.That(decider.Decide(S(0.5f, 0.65f, 0f)), Is.EqualTo(-1), "the margin alone makes it unknown");
    }

    [Test]
    public void AClassWithItsOwnThresholdNeedsThatScore()
    {
        // "open" must be sure (0.9); the others need only 0.5.
        var o = new DecisionOptions { Consecutive = 1, MinScore = 0.5f, Classes = [new ClassThresholdOptions { Label = "open", MinScore = 0.9f }] };
        Assert.That(Run(o, S(0.1f, 0.85f, 0.05f), S(0.02f, 0.95f, 0.03f), S(0.55f, 0.4f, 0.05f)),
            Is.EqualTo(new[] { "unknown", "open", "closed" }));
    }

    [Test]
    public void AStateChangesOnlyAfterNConsecutiveAgreeingResults()
    {
        var o = new DecisionOptions { Consecutive = 3 };
        var closed = S(0.8f, 0.1f, 0.1f);
        var open = S(0.1f, 0.8f, 0.1f);
        // closed x3 → closed on the 3rd; open, open, closed (run broken), open x3 → open on the 3rd of that run.
        Assert.That(Run(o, closed, closed, closed, open, open, closed, open, open, open),
            Is.EqualTo(new[] { "-", "-", "closed", "closed", "closed", "closed", "closed", "closed", "open" }));
    }

    [Test]
    public void HysteresisKeepsAStateUntilItsScoreFallsBelowTheLeaveScore()
    {
        // Enter at 0.7, leave below 0.4.
        var o = new DecisionOptions { Consecutive = 1, MinScore = 0.7f, LeaveScore = 0.4f };
        Assert.That(Run(o,
                S(0.75f, 0.2f, 0.05f),   // closed (≥ 0.7)
                S(0.45f, 0.5f, 0.05f),   // open leads, but closed is still ≥ 0.4: closed
                S(0.41f, 0.55f, 0.04f),  // closed 0.41 ≥ 0.4: closed
                S(0.35f, 0.6f, 0.05f),   // closed < 0.4; open 0.6 < 0.7 enters nothing: unknown
                S(0.2f, 0.72f, 0.08f),   // open ≥ 0.7: open
                S(0.3f, 0.45f, 0.25f)),  // open ≥ 0.4: open
            Is.EqualTo(new[] { "closed", "closed", "closed", "unknown", "open", "open" }));
    }

    [Test]
    public void HysteresisDoesNotHoldAStateAgainstAnotherClassThatIsSureOnItsOwn()
    {
        // Enter at 0.6 with a margin of 0.2, leave below 0.3: closed 0.35 would hold against an unsure answer, not against open 0.65.
        var o = new DecisionOptions { Consecutive = 1, MinScore = 0.6f, MinMargin = 0.2f, LeaveScore = 0.3f };
        Assert.That(Run(o, S(0.8f, 0.1f, 0.1f), S(0.35f, 0.45f, 0.2f), S(0.35f, 0.65f, 0f)), Is.EqualTo(new[] { "closed", "closed", "open" }));
    }

    [Test]
    public void AClockSteppedBackDoesNotFreezeTheState()
    {
        var decider = new StateDecider(new DecisionOptions { Consecutive = 1, MinStateMs = 1000 }, Labels);
        decider.Update(S(0.8f, 0.1f, 0.1f), T0);
        decider.Update(S(0.1f, 0.8f, 0.1f), T0.AddHours(-1)); // NTP stepped the clock back an hour: the state's time starts again
        Assert.That(decider.Update(S(0.1f, 0.8f, 0.1f), T0.AddHours(-1).AddSeconds(1))?.To, Is.EqualTo("open"));
    }

    [Test]
    public void AStateLastsAtLeastMinStateMsAndTheWaitingChangeComesAfter()
    {
        var o = new DecisionOptions { Consecutive = 1, MinStateMs = 2500 };
        var closed = S(0.8f, 0.1f, 0.1f);
        var open = S(0.1f, 0.8f, 0.1f);
        // closed at t=0; open at t=1, 2 is held back (1 s, 2 s < 2.5 s); at t=3 (3 s) the change happens.
        Assert.That(Run(o, closed, open, open, open), Is.EqualTo(new[] { "closed", "closed", "closed", "open" }));
        // A state the results left again before the time was up is not entered at all.
        Assert.That(Run(o, closed, open, closed, closed), Is.EqualTo(new[] { "closed", "closed", "closed", "closed" }));
    }

    [Test]
    public void AChangeSaysFromWhatToWhatWithTheDecidingScoreAndTime()
    {
        var decider = new StateDecider(new DecisionOptions { Consecutive = 2 }, Labels);
        Assert.That(decider.Update(S(0.8f, 0.1f, 0.1f), T0), Is.Null);
        var first = decider.Update(S(0.7f, 0.2f, 0.1f), T0.AddSeconds(1));
        Assert.That(first, Is.EqualTo(new StateChange(null, "closed", 0.7f, T0.AddSeconds(1))));
        Assert.That(decider.Update(S(0.1f, 0.1f, 0.8f), T0.AddSeconds(2)), Is.Null);
        Assert.That(decider.Update(S(0.1f, 0.2f, 0.7f), T0.AddSeconds(3)), Is.EqualTo(new StateChange("closed", "ajar", 0.7f, T0.AddSeconds(3))));
        Assert.That((decider.Changes, decider.Since, decider.LastDecision), Is.EqualTo((2L, T0.AddSeconds(3), "ajar")));
    }

    [Test]
    public void ANewModelWithTheSameClassesKeepsTheStateAndOneWithoutItStartsAgain()
    {
        var decider = new StateDecider(new DecisionOptions { Consecutive = 1 }, Labels);
        decider.Update(S(0.1f, 0.8f, 0.1f), T0);
        decider.Bind(["ajar", "open", "closed", "gone"]);
        Assert.That(decider.State, Is.EqualTo("open"));
        Assert.That(decider.Update([0.1f, 0.7f, 0.1f, 0.1f], T0.AddSeconds(1)), Is.Null, "open is still open under the new class order");
        decider.Bind(["cat", "dog"]);
        Assert.That(decider.State, Is.EqualTo("unknown"), "a class the new model lacks is no state: unknown, and the next change says so");
        Assert.That(decider.Update([0.9f, 0.1f], T0.AddSeconds(2)), Is.EqualTo(new StateChange("unknown", "cat", 0.9f, T0.AddSeconds(2))));
    }

    [Test]
    public void ScoresForAnotherClassCountAreRefused()
    {
        var decider = new StateDecider(new DecisionOptions { Consecutive = 1 }, Labels);
        Assert.Throws<ArgumentException>(() => decider.Update([0.5f, 0.5f], T0));
    }
}

/// <summary>Region and decision settings checked at start, every bad key named in one line.</summary>
public class DecisionSettingsTests
{
    [Test]
    public void BadRegionAndDecisionSettingsAreEachNamed()
    {
        var r = Edged.Run("run", "--Store:Enabled=false",
            "--Regions:0:Name=door", "--Regions:0:X=0.8", "--Regions:0:Width=0.5",
            "--Regions:1:Name=door", "--Regions:2:Name=a/b",
            "--Decision:MinScore=0.5", "--Decision:LeaveScore=0.6", "--Decision:Consecutive=0", "--Decision:Classes:0:MinScore=2",
            "--Actions:Rules:0:Label=red", "--Actions:Rules:0:Pin=5", "--Actions:Rules:0:Region=gate", "--Source:Name=front door");
        Assert.That(r.ExitCode, Is.Not.Zero);
        var line = r.Stderr.Trim();
        Assert.That(line.Split('\n'), Has.Length.EqualTo(1), line);
        foreach (var expected in new[]
                 {
                     "Regions:0: the rectangle leaves the frame", "Regions:1:Name: 'door' is used twice", "Regions:2:Name: 'a/b' must be 1-32 letters",
                     "Decision:LeaveScore: must not exceed", "Decision:Consecutive: must be 1..10000", "Decision:Classes:0:Label: is required",
                     "Decision:Classes:0:MinScore: must be 0..1", "Actions:Rules:0:Region: 'gate' is not one of the Regions (door, a/b)",
                     "Source:Name: 'front door' must be 1-32",
                 })
            Assert.That(line, Does.Contain(expected));
    }

    [Test]
    public void ADecisionClassThatTheModelDoesNotHaveIsRefusedAtStart()
    {
        var r = Edged.Run("run", "--Store:Enabled=false", "--Model:Updates:Enabled=false", "--Decision:Classes:0:Label=purpel", "--Decision:Classes:0:MinScore=0.8");
        Assert.That(r.ExitCode, Is.Not.Zero);
        Assert.That(r.Stderr.Trim(), Does.StartWith("edged: error: config: Decision:Classes:0:Label 'purpel' is not a class of the model").And.Contain("its classes: red,"));
    }
}
