using Edge.Host.Evaluation;
using Edge.Host.Quantization;
using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using Edge.TestSupport;
using Google.Protobuf;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.Host.Tests;

public class NodeProfilerTests
{
    [Test]
    public void KernelTimesAreEachNodesMedianInMillisecondsFromTheTrace()
    {
        using var dir = new TempDir();
        var path = dir.File("profile.json");
        // ONNX Runtime's trace: session events, and per node a fence before, the kernel, a fence after.
        File.WriteAllText(path, """
            [
              {"cat":"Session","pid":1,"tid":1,"dur":900,"ts":0,"ph":"X","name":"model_run","args":{}},
              {"cat":"Node","pid":1,"tid":1,"dur":0,"ts":1,"ph":"X","name":"a.conv_fence_before","args":{"op_name":"Conv"}},
              {"cat":"Node","pid":1,"tid":1,"dur":10,"ts":2,"ph":"X","name":"a.conv_kernel_time","args":{"op_name":"Conv"}},
              {"cat":"Node","pid":1,"tid":1,"dur":30,"ts":3,"ph":"X","name":"a.conv_kernel_time","args":{"op_name":"Conv"}},
              {"cat":"Node","pid":1,"tid":1,"dur":20,"ts":4,"ph":"X","name":"a.conv_kernel_time","args":{"op_name":"Conv"}},
              {"cat":"Node","pid":1,"tid":1,"dur":5,"ts":5,"ph":"X","name":"b.add_token_2_kernel_time","args":{"op_name":"QLinearAdd"}},
              {"cat":"Node","pid":1,"tid":1,"dur":8,"ts":6,"ph":"X","name":"b.add_token_2_kernel_time","args":{"op_name":"QLinearAdd"}},
              {"cat":"Node","pid":1,"tid":1,"dur":1,"ts":7,"ph":"X","name":"b.add_token_2_fence_after","args":{"op_name":"QLinearAdd"}}
            ]
            """);
        var times = NodeProfiler.KernelTimes(path);
        Assert.That(times.Keys, Is.EquivalentTo(new[] { "a.conv", "b.add_token_2" }));
        Assert.That(times["a.conv"], Is.EqualTo(0.020).Within(1e-12), "median of 10, 30, 20 µs");
        Assert.That(times["b.add_token_2"], Is.EqualTo(0.0065).Within(1e-12), "median of 5 and 8 µs");
    }

    [TestCase("[{\"cat\":\"Node\",\"name\":\"a_kernel_time\",\"dur\":", "not JSON")]
    [TestCase("{\"traceEvents\": []}", "not a list of trace events")]
    [TestCase("[{\"cat\":\"Node\",\"name\":\"a_kernel_time\"}]", "event 'a_kernel_time' has no duration")]
    public void AProfileThatIsNotOneIsAnIOErrorNamingIt(string text, string why)
    {
        using var dir = new TempDir();
        var path = dir.File("profile.json");
        File.WriteAllText(path, text);
        Assert.That(() => NodeProfiler.KernelTimes(path), Throws.TypeOf<IOException>().With.Message.StartWith($"ONNX Runtime's profile '{path}': {why}"));
    }

    [Test]
    public void EveryNodeOfAQuantizedModelIsTimedUnderItsSourceNodesName()
    {
        // x[1,4,16,16] → Conv "first.conv" → Relu "first.relu" → Conv "second.conv" → y, in QDQ form: ONNX Runtime fuses
        // each DequantizeLinear → Conv (→ Relu) → QuantizeLinear into one integer node named after its Conv.
        var g = new GraphBuilder("two");
        var x = g.Input("x", DataType.Float, 1, 4, 16, 16);
        g.Initializer("W1", [.. Enumerable.Range(0, 8 * 4 * 9).Select(i => (i % 7 - 3) * 0.1f)], 8, 4, 3, 3);
        g.Initializer("W2", [.. Enumerable.Range(0, 4 * 8).Select(i => (i % 5 - 2) * 0.1f)], 4, 8, 1, 1);
        var a = g.Node("Conv", [x, "W1"], "a", "first.conv", Attr.Ints("pads", 1, 1, 1, 1));
        var r = g.Node("Relu", [a], "r", "first.relu");
        g.Output(g.Node("Conv", [r, "W2"], "y", "second.conv"), DataType.Float, 1, 4, 16, 16);
        var prepared = GraphPreparer.Prepare(g.Build(), out _);
        var ranges = new QdqPlan(prepared, new HashSet<string>()).CalibratedTensors.ToDictionary(t => t, _ => (-2f, 2f));
        var int8 = QdqQuantizer.Quantize(prepared, ranges, new QdqOptions()).Model;

        string[] Leftovers() => [.. Directory.GetFiles(Environment.CurrentDirectory, "onnxruntime_profile_*"),
            .. Directory.GetDirectories(Path.GetTempPath(), $"edge-profile-{Environment.ProcessId}-*")];
        var before = Leftovers();
        var times = NodeProfiler.Profile(int8.ToByteArray(), threads: 1, runs: 20);
        Assert.That(Leftovers(), Is.EquivalentTo(before), "the profile is written to a folder of its own and deleted");
        var first = times.Keys.Where(k => k.StartsWith("first.conv", StringComparison.Ordinal)).ToList();
        var second = times.Keys.Where(k => k.StartsWith("second.conv", StringComparison.Ordinal)).ToList();
        Assert.That((first.Count, second.Count), Is.EqualTo((1, 1)), string.Join(", ", times.Keys));
        Assert.That(times.Keys, Has.None.StartsWith("first.relu"), "fused into the first convolution");
        Assert.That(times[first[0]], Is.GreaterThan(0));
        Assert.That(times[second[0]], Is.GreaterThan(0));
    }
}
