using Edge.Onnx.Metadata;
using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using Google.Protobuf;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.TestSupport;

/// <summary>
/// Models an attacker or a broken exporter could hand the daemon, each with a behaviour a test can
/// predict: they read files, lie about their outputs, or produce NaN on real images only. All take
/// 3x16x16 RGB input with mean 0, std 1, scale 1/255, so a bright image has positive mean input and
/// the all-zero tensor a load-time check would use has mean 0.
/// </summary>
public static class HostileModels
{
    public static readonly string[] FourLabels = ["a", "b", "c", "d"];

    private static ModelSettings Plain(IReadOnlyList<string>? labels = null) => new()
    {
        Labels = labels ?? FourLabels, Color = ColorOrder.Rgb, Resize = ResizeMode.Squash, Scale = 1f / 255f, Mean = [0f, 0f, 0f], Std = [1f, 1f, 1f],
    };

    /// <summary>GlobalAveragePool → Flatten → Gemm(3 → k): returns the builder and the [N,k] logits name, to extend.</summary>
    private static (GraphBuilder G, string Logits) Head(int classes = 4, int size = 16, string name = "hostile")
    {
        var g = new GraphBuilder(name);
        var x = g.Input("image", DataType.Float, "N", 3, size, size);
        var w = new float[classes * 3];
        for (var i = 0; i < w.Length; i++) w[i] = (i % 5) - 2;
        g.Initializer("W", w, classes, 3);
        g.Initializer("B", new float[classes], classes);
        var pooled = g.Node("GlobalAveragePool", [x], "pooled");
        var flat = g.Node("Flatten", [pooled], "flat", null, Attr.Int("axis", 1));
        var logits = g.Node("Gemm", [flat, "W", "B"], "logits", "fc", Attr.Int("transB", 1));
        return (g, logits);
    }

    /// <summary>A harmless classifier with the given labels (e.g. labels that contain markup).</summary>
    public static ModelProto WithLabels(IReadOnlyList<string> labels)
    {
        var (g, logits) = Head(labels.Count);
        g.Output(logits, DataType.Float, "N", labels.Count);
        g.Metadata(Plain(labels).ToMetadata());
        return g.Build();
    }

    /// <summary>A harmless four-label classifier that says it is release <paramref name="version"/> (so each version has its own hash).</summary>
    public static ModelProto Release(string version, IReadOnlyList<string>? labels = null)
    {
        var model = WithLabels(labels ?? FourLabels);
        model.MetadataProps.Add(new StringStringEntryProto { Key = ModelMetadataKeys.Version, Value = version });
        return model;
    }

    /// <summary>The same classifier with no metadata at all: no labels, no normalisation.</summary>
    public static ModelProto WithoutMetadata()
    {
        var model = WithLabels(FourLabels);
        model.MetadataProps.Clear();
        return model;
    }

    /// <summary>An input of four channels ([N,4,16,16]): not an image tensor Edge can feed.</summary>
    public static ModelProto FourChannelInput() => PooledGemm("four-channels", 4, new float[16]);

    /// <summary>image [N,C,16,16] → GlobalAveragePool → Flatten → Gemm(C → 4 classes, the given weights), plain metadata.</summary>
    private static ModelProto PooledGemm(string name, int channels, float[] weights)
    {
        var g = new GraphBuilder(name);
        var x = g.Input("image", DataType.Float, "N", channels, 16, 16);
        g.Initializer("W", weights, 4, channels);
        g.Initializer("B", new float[4], 4);
        var pooled = g.Node("GlobalAveragePool", [x], "pooled");
        var flat = g.Node("Flatten", [pooled], "flat", null, Attr.Int("axis", 1));
        var logits = g.Node("Gemm", [flat, "W", "B"], "logits", "fc", Attr.Int("transB", 1));
        g.Output(logits, DataType.Float, "N", 4);
        g.Metadata(Plain().ToMetadata());
        return g.Build();
    }

    /// <summary>A tensor that ONNX Runtime would fill from <paramref name="location"/> (relative to where it resolves paths).</summary>
    public static TensorProto ExternalTensor(string name, string location, long elements)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        t.Dims.Add(elements);
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
        t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = (elements * 4).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        return t;
    }

    /// <summary>
    /// The logits plus a bias read by a Constant node from an external file: the file's first 16 bytes
    /// become the four scores' offsets, so whatever file that is leaks through the output.
    /// </summary>
    public static ModelProto ConstantReadingAFile(string location)
    {
        var (g, logits) = Head();
        var leak = g.Node("Constant", [], "leak", "leak", Attr.Tensor("value", ExternalTensor("leak_value", location, 4)));
        var sum = g.Node("Add", [logits, leak], "scores");
        g.Output(sum, DataType.Float, "N", 4);
        g.Metadata(Plain().ToMetadata());
        return g.Build();
    }

    /// <summary>The same read hidden one level down, in the then-branch of an If node.</summary>
    public static ModelProto SubgraphReadingAFile(string location)
    {
        var (g, logits) = Head();
        var thenGraph = new GraphProto { Name = "then", Node = { new NodeProto { OpType = "Constant", Name = "leak", Output = { "leak" }, Attribute = { Attr.Tensor("value", ExternalTensor("leak_value", location, 4)) } } } };
        thenGraph.Output.Add(FloatOutput("leak", 4));
        var elseGraph = new GraphProto { Name = "else", Node = { new NodeProto { OpType = "Constant", Name = "zero", Output = { "zero" }, Attribute = { Attr.Tensor("value", TensorData.FromFloats("zeros", new float[4], 4)) } } } };
        elseGraph.Output.Add(FloatOutput("zero", 4));
        g.Initializer(TensorData.FromFloats("flag", [1f], 1));
        var cond = g.Node("Cast", ["flag"], "cond", null, Attr.Int("to", (long)DataType.Bool));
        var ifNode = g.Node("If", [cond], "bias", "if",
            new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = thenGraph },
            new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = elseGraph });
        var sum = g.Node("Add", [logits, ifNode], "scores");
        g.Output(sum, DataType.Float, "N", 4);
        g.Metadata(Plain().ToMetadata());
        return g.Build();
    }

    private static ValueInfoProto FloatOutput(string name, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string p ? new TensorShapeProto.Types.Dimension { DimParam = p } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture) });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float, Shape = shape } } };
    }

    /// <summary>Weights with a NaN: every score is NaN, on any input.</summary>
    public static ModelProto NaNWeights() => PooledGemm("nan", 3, [1f, float.NaN, 0f, 0f, 1f, 0f, 0f, 0f, 1f, 1f, 1f, 1f]);

    /// <summary>
    /// Finite on an all-zero input (what a load-time check runs), NaN on any image whose mean is above
    /// zero: the logits get sqrt(-mean) added.
    /// </summary>
    public static ModelProto NaNOnBrightImages()
    {
        var (g, logits) = Head();
        var mean = g.Node("ReduceMean", ["flat"], "mean", null, Attr.Ints("axes", 1), Attr.Int("keepdims", 1));
        var neg = g.Node("Neg", [mean], "neg");
        var root = g.Node("Sqrt", [neg], "root");
        var sum = g.Node("Add", [logits, root], "scores");
        g.Output(sum, DataType.Float, "N", 4);
        g.Metadata(Plain().ToMetadata());
        return g.Build();
    }

    /// <summary>
    /// Declares [N, 4] and outputs 4 scores on an all-zero input, but 6 on any image with a pixel above
    /// half brightness: it loads and passes a load-time run, then fails on real frames.
    /// </summary>
    public static ModelProto WrongWidthOnBrightImages()
    {
        var (g, logits) = Head();
        var max = g.Node("ReduceMax", ["image"], "max", null, Attr.Int("keepdims", 0));
        g.Initializer(TensorData.FromFloats("half", [0.5f]));
        var bright = g.Node("Greater", [max, "half"], "bright");
        // Subgraphs read the outer graph's tensors, which GraphBuilder cannot express: written by hand.
        var wideGraph = new GraphProto { Name = "wide", Node = { new NodeProto { OpType = "Concat", Input = { logits, "extra" }, Output = { "wider" }, Attribute = { Attr.Int("axis", 1) } } } };
        wideGraph.Output.Add(FloatOutput("wider", "N", 6));
        var narrowGraph = new GraphProto { Name = "narrow", Node = { new NodeProto { OpType = "Identity", Input = { logits }, Output = { "same" } } } };
        narrowGraph.Output.Add(FloatOutput("same", "N", 4));
        g.Initializer("extra", new float[2], 1, 2);
        var chosen = g.Node("If", [bright], "scores", "if",
            new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = wideGraph },
            new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = narrowGraph });
        g.Output(chosen, DataType.Float, "N", 4);
        g.Metadata(Plain().ToMetadata());
        return g.Build();
    }

    /// <summary>Says it outputs probabilities, outputs values near 3e38: averaging a few overflows to infinity.</summary>
    public static ModelProto HugeProbabilities()
    {
        var g = new GraphBuilder("huge");
        var x = g.Input("image", DataType.Float, "N", 3, 16, 16);
        g.Initializer("W", [1e38f, 0, 0, 0, 1e38f, 0, 0, 0, 1e38f, 3e38f, 3e38f, 3e38f], 4, 3);
        g.Initializer("B", [3e38f, 3e38f, 3e38f, 3e38f], 4);
        var pooled = g.Node("GlobalAveragePool", [x], "pooled");
        var flat = g.Node("Flatten", [pooled], "flat", null, Attr.Int("axis", 1));
        var y = g.Node("Gemm", [flat, "W", "B"], "probabilities", "fc", Attr.Int("transB", 1));
        g.Output(y, DataType.Float, "N", 4);
        g.Metadata((Plain() with { Output = OutputKind.Probabilities }).ToMetadata());
        return g.Build();
    }

    /// <summary>A 1 KB model whose one inference fills <paramref name="floats"/> floats (Expand), then sums them away.</summary>
    public static ModelProto MemoryHungry(long floats)
    {
        var (g, logits) = Head();
        g.Initializer(TensorData.FromInt64s("shape", [1, floats], 2));
        // Expanded from a value of the input, so nothing can be folded away before it runs.
        var max = g.Node("ReduceMax", ["image"], "max", null, Attr.Int("keepdims", 0));
        var big = g.Node("Expand", [max, "shape"], "big");
        var sum = g.Node("ReduceSum", [big], "sum", null, Attr.Int("keepdims", 1));
        var scores = g.Node("Add", [logits, sum], "scores");
        g.Output(scores, DataType.Float, "N", 4);
        g.Metadata(Plain().ToMetadata());
        return g.Build();
    }

    /// <summary>Declares 4 scores, computes 6 on every input.</summary>
    public static ModelProto AlwaysWrongWidth()
    {
        var (g, logits) = Head(6);
        g.Output(logits, DataType.Float, "N", 4);
        g.Metadata(Plain().ToMetadata());
        return g.Build();
    }

    /// <summary>An output that declares <paramref name="classes"/> scores (and computes far fewer).</summary>
    public static ModelProto DeclaringClasses(long classes)
    {
        var (g, logits) = Head();
        g.Output(logits, DataType.Float, "N", classes);
        var settings = Plain() with { Labels = null };
        g.Metadata(settings.ToMetadata());
        return g.Build();
    }

    /// <summary>An input of a fixed size (or a symbolic one with this metadata size).</summary>
    public static ModelProto InputOf(long width, long height, bool inMetadata = false)
    {
        var g = new GraphBuilder("huge");
        var x = inMetadata ? g.Input("image", DataType.Float, "N", 3, "H", "W") : g.Input("image", DataType.Float, "N", 3, height, width);
        var pooled = g.Node("GlobalAveragePool", [x], "pooled");
        var flat = g.Node("Flatten", [pooled], "flat", null, Attr.Int("axis", 1));
        g.Output(flat, DataType.Float, "N", 3);
        g.Metadata(Plain(["r", "g", "b"]).ToMetadata());
        var model = g.Build();
        if (inMetadata) model.MetadataProps.Add(new StringStringEntryProto { Key = ModelMetadataKeys.InputSize, Value = $"{width}x{height}" });
        return model;
    }

    /// <summary>Appends an unknown field (number 9999, length-delimited) to a serialised model.</summary>
    public static byte[] WithUnknownField(ModelProto model, byte[] payload)
    {
        using var ms = new MemoryStream();
        var output = new CodedOutputStream(ms);
        model.WriteTo(output);
        output.WriteTag(9999, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(payload));
        output.Flush();
        return ms.ToArray();
    }
}
