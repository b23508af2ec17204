using Edge.Onnx.Metadata;
using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.TestSupport;

/// <summary>Small models with hand-set weights, whose outputs a test can compute by hand.</summary>
public static class TestModels
{
    /// <summary>
    /// logits[k] = sum_c weights[k, c] * mean_over_pixels(input[c]) + bias[k]
    /// (GlobalAveragePool → Flatten → Gemm), with an optional final Softmax.
    /// </summary>
    public static ModelProto Linear(int channels, int height, int width, float[,] weights, float[] bias,
        bool softmax = false, ModelSettings? settings = null, Dim? batch = null, bool nhwc = false)
    {
        var classes = weights.GetLength(0);
        var g = new GraphBuilder("linear");
        var x = nhwc
            ? g.Input("image", DataType.Float, batch ?? "N", height, width, channels)
            : g.Input("image", DataType.Float, batch ?? "N", channels, height, width);
        if (nhwc) x = g.Node("Transpose", [x], "nchw", null, Attr.Ints("perm", 0, 3, 1, 2));
        var w = new float[classes * channels];
        for (var k = 0; k < classes; k++)
            for (var c = 0; c < channels; c++) w[k * channels + c] = weights[k, c];
        g.Initializer("W", w, classes, channels);
        g.Initializer("B", bias, classes);
        var pooled = g.Node("GlobalAveragePool", [x], "pooled");
        var flat = g.Node("Flatten", [pooled], "flat", null, Attr.Int("axis", 1));
        var logits = g.Node("Gemm", [flat, "W", "B"], softmax ? "logits" : "scores", "fc", Attr.Int("transB", 1));
        var output = softmax ? g.Node("Softmax", [logits], "probabilities", null, Attr.Int("axis", 1)) : logits;
        g.Output(output, DataType.Float, batch ?? "N", classes);
        if (settings is not null) g.Metadata(settings.ToMetadata());
        return g.Build();
    }

    /// <summary>Outputs its input tensor flattened, so a test sees exactly what the runtime fed the model.</summary>
    public static ModelProto Passthrough(int channels, int height, int width, ModelSettings? settings = null, bool nhwc = false)
    {
        var g = new GraphBuilder("passthrough");
        var x = nhwc
            ? g.Input("image", DataType.Float, 1, height, width, channels)
            : g.Input("image", DataType.Float, 1, channels, height, width);
        var flat = g.Node("Flatten", [x], "flat", null, Attr.Int("axis", 1));
        g.Output(flat, DataType.Float, 1, channels * height * width);
        if (settings is not null) g.Metadata(settings.ToMetadata());
        return g.Build();
    }

    /// <summary>Conv(3→8, 3x3, stride 2, pad 1) → Relu → Conv(8→16, 1x1) → GlobalAveragePool → Flatten → Gemm(16→10).</summary>
    public static ModelProto SmallConvNet(int size = 32, int seed = 7)
    {
        var rng = new Random(seed);
        float[] R(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5))];
        var g = new GraphBuilder("convnet");
        var x = g.Input("input", DataType.Float, "batch", 3, size, size);
        g.Initializer("c1.w", R(8 * 3 * 9), 8, 3, 3, 3);
        g.Initializer("c1.b", R(8), 8);
        g.Initializer("c2.w", R(16 * 8), 16, 8, 1, 1);
        g.Initializer("fc.w", R(10 * 16), 10, 16);
        g.Initializer("fc.b", R(10), 10);
        var c1 = g.Node("Conv", [x, "c1.w", "c1.b"], "c1", "conv1", Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1));
        var r1 = g.Node("Relu", [c1], "r1");
        var c2 = g.Node("Conv", [r1, "c2.w"], "c2", "conv2", Attr.Ints("kernel_shape", 1, 1));
        var p = g.Node("GlobalAveragePool", [c2], "pool");
        var f = g.Node("Flatten", [p], "flat");
        var fc = g.Node("Gemm", [f, "fc.w", "fc.b"], "logits", "fc", Attr.Int("transB", 1));
        g.Output(fc, DataType.Float, "batch", 10);
        return g.Build();
    }

    public static readonly string[] ColorLabels =
        ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "brown", "white", "gray", "black"];

    private static readonly float[,] ColorCentroids =
    {
        { 0.80f, 0.10f, 0.10f }, { 0.95f, 0.55f, 0.10f }, { 0.95f, 0.90f, 0.15f }, { 0.15f, 0.65f, 0.20f },
        { 0.10f, 0.75f, 0.80f }, { 0.10f, 0.20f, 0.80f }, { 0.55f, 0.15f, 0.70f }, { 0.95f, 0.50f, 0.70f },
        { 0.45f, 0.28f, 0.12f }, { 0.95f, 0.95f, 0.95f }, { 0.50f, 0.50f, 0.50f }, { 0.05f, 0.05f, 0.05f },
    };

    /// <summary>
    /// The shipped default model (models/colors.onnx): names an image's average colour. It is a
    /// nearest-centroid classifier written as a linear layer: -|x - c|² = 2c·x - |c|² - |x|², and
    /// the last term is the same for every class, so logits = T(2c·x - |c|²) rank like distance.
    /// </summary>
    public static ModelProto ColorModel()
    {
        const float temperature = 40f;
        var k = ColorLabels.Length;
        var w = new float[k, 3];
        var b = new float[k];
        for (var i = 0; i < k; i++)
        {
            var norm = 0f;
            for (var c = 0; c < 3; c++)
            {
                w[i, c] = temperature * 2 * ColorCentroids[i, c];
                norm += ColorCentroids[i, c] * ColorCentroids[i, c];
            }
            b[i] = -temperature * norm;
        }
        var settings = new ModelSettings
        {
            Labels = ColorLabels,
            Color = ColorOrder.Rgb,
            Resize = ResizeMode.Squash,
            Scale = 1f / 255f,
            Mean = [0f, 0f, 0f],
            Std = [1f, 1f, 1f],
        };
        var model = Linear(3, 64, 64, w, b, softmax: true, settings: settings);
        model.DocString = "Average-colour classifier: Edge's built-in demo model (hand-set weights, not trained).";
        model.ProducerName = "edge-test-fixtures";
        model.ProducerVersion = "1";
        model.MetadataProps.Add(new StringStringEntryProto { Key = ModelMetadataKeys.Architecture, Value = "global-average-pool + linear (nearest colour centroid)" });
        model.MetadataProps.Add(new StringStringEntryProto { Key = ModelMetadataKeys.TrainingData, Value = "none: weights are colour centroids set by hand" });
        return model;
    }

    public static string Save(ModelProto model, string path)
    {
        OnnxModelFile.Save(model, path);
        return path;
    }
}
