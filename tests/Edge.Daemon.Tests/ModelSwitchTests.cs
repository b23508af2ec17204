using Edge.Core.Inference;
using Edge.Daemon.Capture;
using Edge.Daemon.Models;
using Edge.Daemon.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Daemon.Tests;

/// <summary>The model switch and the pipeline's use of it, in process: swaps between frames, probation, rollback, leases.</summary>
public class ModelSwitchTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private LoadedModel Load(Onnx.Protos.ModelProto proto, string name)
    {
        var path = TestModels.Save(proto, _dir.File(name + ".onnx"));
        var camera = Classifier.Load(path, new ClassifierOptions { MaxBatch = 1 });
        var uploads = Classifier.Load(path, new ClassifierOptions { MaxBatch = 1, IntraOpThreads = 1 });
        return new LoadedModel(camera, uploads, ModelIdentity.Of(camera, ModelIdentity.HashFile(path)!, name, DateTimeOffset.UtcNow));
    }

    [Test]
    public void AnOfferedModelRunsOnlyFromTheNextFrameAndTheOldOneIsLetGoOnceTheNewOneIsProven()
    {
        var changes = new List<ModelChange>();
        var v1 = Load(HostileModels.Release("1"), "v1");
        var v2 = Load(HostileModels.Release("2"), "v2");
        using var models = new ModelSwitch(v1, probationFrames: 3, rollbackFailures: 2, changes.Add);
        models.Offer(v2);
        Assert.That(models.Current, Is.SameAs(v1), "nothing changes until the pipeline starts a frame");
        Assert.That(models.State.Pending, Is.EqualTo(v2.Identity));
        Assert.That(models.BeginFrame(), Is.True);
        Assert.That(models.Current, Is.SameAs(v2));
        Assert.That(models.BeginFrame(), Is.False, "one swap per offer");
        Assert.That(models.State, Has.Property("OnProbation").True.And.Property("Previous").EqualTo(v1.Identity));
        Assert.That(v1.IsDisposed, Is.False, "the old model stays loaded while the new one is on probation");
        models.Classified(true);
        models.Classified(false);
        Assert.That(v1.IsDisposed, Is.False);
        models.Classified(true);
        Assert.That(models.State.OnProbation, Is.False, "three classifications with one failure (under the two allowed) prove it");
        Assert.That(v1.IsDisposed, Is.True, "the old model's sessions are released once the new one is proven");
        Assert.That(changes.Select(c => c.Kind), Is.EqualTo(new[] { ModelChangeKind.SwappedIn, ModelChangeKind.Proven }));
        Assert.That(models.Classified(false), Is.False, "after probation a failure is the health monitor's business, not a rollback");
    }

    [Test]
    public void AModelThatFailsOnProbationIsRolledBackBeforeTheNextFrame()
    {
        var changes = new List<ModelChange>();
        var good = Load(HostileModels.Release("good"), "good");
        var bad = Load(HostileModels.Release("bad"), "bad");
        using var models = new ModelSwitch(good, probationFrames: 10, rollbackFailures: 2, changes.Add);
        models.Offer(bad);
        models.BeginFrame();
        Assert.That(models.Classified(false, "injected"), Is.False);
        Assert.That(models.Classified(true), Is.False);
        Assert.That(models.Classified(false, "injected"), Is.True, "the second failure on probation rolls back");
        Assert.That(models.Current, Is.SameAs(good));
        Assert.That(bad.IsDisposed, Is.True);
        Assert.That(good.IsDisposed, Is.False);
        Assert.That(models.State, Has.Property("OnProbation").False.And.Property("Previous").EqualTo(bad.Identity));
        var rollback = changes.Single(c => c.Kind == ModelChangeKind.RolledBack);
        Assert.That(rollback.Model, Is.EqualTo(bad.Identity));
        Assert.That(rollback.Other, Is.EqualTo(good.Identity));
        Assert.That(rollback.Reason, Is.EqualTo("2 of its first 3 classifications failed: injected"));
    }

    [Test]
    public void OffersInQuickSuccessionRunOnlyTheLatestAndKeepTheLastProvenModelToFallBackTo()
    {
        var changes = new List<ModelChange>();
        var v1 = Load(HostileModels.Release("1"), "v1");
        var v2 = Load(HostileModels.Release("2"), "v2");
        var v3 = Load(HostileModels.Release("3"), "v3");
        var v4 = Load(HostileModels.Release("4"), "v4");
        using var models = new ModelSwitch(v1, probationFrames: 5, rollbackFailures: 1, changes.Add);
        models.Offer(v2);
        models.Offer(v3);
        Assert.That(v2.IsDisposed, Is.True, "an offer replaced before any frame never runs");
        models.BeginFrame();
        Assert.That(models.Current, Is.SameAs(v3));
        models.Offer(v4);
        models.BeginFrame();
        Assert.That(v3.IsDisposed, Is.True, "v3 was replaced while on probation, never proven");
        Assert.That(models.State.Fallback, Is.EqualTo(v1.Identity), "the model to fall back to is still the last proven one");
        models.Classified(false);
        Assert.That(models.Current, Is.SameAs(v1));
        Assert.That(v4.IsDisposed, Is.True);
        Assert.That(changes.Select(c => (c.Kind, c.Model.Version)), Is.EqualTo(new[]
        {
            (ModelChangeKind.Superseded, "2"), (ModelChangeKind.SwappedIn, "3"), (ModelChangeKind.Superseded, "3"), (ModelChangeKind.SwappedIn, "4"),
            (ModelChangeKind.RolledBack, "4"),
        }));
    }

    [Test]
    public void AnUploadKeepsItsModelAliveAcrossASwapAndReleasesIt()
    {
        var v1 = Load(HostileModels.Release("1"), "v1");
        var v2 = Load(HostileModels.Release("2"), "v2");
        using var models = new ModelSwitch(v1, probationFrames: 0);
        var lease = models.Lease();
        Assert.That(lease, Is.SameAs(v1));
        models.Offer(v2);
        models.BeginFrame();
        Assert.That(models.State.OnProbation, Is.False, "no probation: proven at once");
        Assert.That(v1.IsDisposed, Is.False, "an upload still uses v1");
        var top = lease.Uploads!.Classify(File.ReadAllBytes(Path.Combine(RepoPaths.Models, "samples", "sky.jpg")), 1).Top;
        Assert.That(top, Has.Count.EqualTo(1));
        lease.Release();
        Assert.That(v1.IsDisposed, Is.True, "the last holder disposes it");
        using var next = new Disposer(models.Lease());
        Assert.That(next.Model, Is.SameAs(v2));
    }

    private sealed class Disposer(LoadedModel model) : IDisposable
    {
        public LoadedModel Model { get; } = model;
        public void Dispose() => Model.Release();
    }

    [Test]
    public async Task ThePipelineRollsBackAModelThatFailsOnRealFramesAndGoesOnClassifying()
    {
        // Finite on the all-zero input a load-time check runs, NaN on every real (bright) frame: it passes loading, then fails.
        var good = Load(HostileModels.Release("good"), "good");
        var bad = Load(HostileModels.NaNOnBrightImages(), "nan");
        var changes = new List<ModelChange>();
        using var models = new ModelSwitch(good, probationFrames: 20, rollbackFailures: 3, c => { lock (changes) changes.Add(c); });
        var supervisor = new SourceSupervisor(() => new FolderSource(Path.Combine(RepoPaths.Models, "samples", "sky.jpg"), loop: true, fps: 100),
            TimeSpan.FromSeconds(2), NullLogger.Instance);
        await using var pipeline = new CameraPipeline(models, supervisor, null, NullLogger.Instance, new PipelineSettings { MaxRate = 1000, Smoothing = 3 });
        using var cts = new CancellationTokenSource();
        var run = pipeline.RunAsync(cts.Token);
        await Eventually.Until(() => pipeline.Counters.FramesClassified >= 5, "the first classifications");
        models.Offer(bad);
        await Eventually.Until(() => { lock (changes) return changes.Any(c => c.Kind == ModelChangeKind.RolledBack); }, "the rollback");
        var after = pipeline.Counters.FramesClassified;
        await Eventually.Until(() => pipeline.Counters.FramesClassified >= after + 10, "classification after the rollback");
        Assert.That(pipeline.Counters.InferenceErrors, Is.EqualTo(3), "exactly the failures that triggered the rollback");
        Assert.That(models.Current, Is.SameAs(good));
        Assert.That(bad.IsDisposed, Is.True);
        Assert.That(pipeline.Health(), Is.Empty, "the rollback leaves the daemon healthy");
        Assert.That(pipeline.Latest!.Top[0].Label, Is.AnyOf(HostileModels.FourLabels));
        await cts.CancelAsync();
        await run;
    }

}
