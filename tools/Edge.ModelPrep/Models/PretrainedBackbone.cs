using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using TorchSharp;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Models;

/// <summary>
/// ImageNet-pretrained starting points. The default is ML.NET's ResNet-18 featurizer (ImageNet-trained,
/// MIT; NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18, copied beside edge-prep at build time): an
/// ONNX graph exported by CNTK with 22 convolutions each followed by BatchNormalization, in basic
/// blocks of 2, 2, 2 and 3 per stage (one more in the last stage than torchvision's ResNet-18). Its
/// graph is walked block by block (any ResNet of basic blocks maps, the BatchNorm folded or not) and
/// the weights copied into Edge's own <see cref="ResNet"/> built with the same blocks, which computes the
/// same features (a test compares them with ONNX Runtime's on real images).
/// </summary>
public static class PretrainedBackbone
{
    public const string ImageNet = "imagenet";

    /// <summary>The ImageNet ResNet-18 shipped beside edge-prep.</summary>
    public static string ImageNetPath => Path.Combine(AppContext.BaseDirectory, "pretrained", "resnet18-imagenet.onnx");

    /// <summary>
    /// The backbone's input: BGR pixels 0..255 minus ML.NET's mean image (ResNetPreprocess.onnx), whose
    /// per-channel averages are these. In Edge's terms (pixels scaled to 0..1): colour bgr,
    /// mean = these / 255, std = 1 / 255.
    /// </summary>
    public static readonly float[] BgrMean = [103.0626f, 115.9029f, 123.1516f];

    public static float[] Mean => [.. BgrMean.Select(m => m / 255f)];
    public static float[] Std => [1f / 255, 1f / 255, 1f / 255];

    /// <summary>Resolves "imagenet" or a file to an ONNX path.</summary>
    public static string Resolve(string pretrained)
    {
        var path = string.Equals(pretrained, ImageNet, StringComparison.OrdinalIgnoreCase) ? ImageNetPath : pretrained;
        if (!File.Exists(path))
            throw new PretrainedException(path == ImageNetPath
                ? $"the ImageNet ResNet-18 is missing from '{path}' (it comes with edge-prep's build: run tools/setup.sh)"
                : $"--pretrained '{pretrained}' does not exist");
        return path;
    }

    /// <summary>Reads a ResNet-18/34 backbone's weights from an ONNX file, refusing a graph that does not map (the node named).</summary>
    public static ResNetWeights Read(string path)
    {
        ModelProto model;
        try { model = OnnxModelFile.Load(path); }
        catch (OnnxFormatException e) { throw new PretrainedException(e.Message); }
        var g = model.Graph;
        var inits = g.Initializer.ToDictionary(t => t.Name);
        var consumers = new Dictionary<string, List<NodeProto>>();
        foreach (var n in g.Node)
            foreach (var i in n.Input)
                (consumers.TryGetValue(i, out var l) ? l : consumers[i] = []).Add(n);
        List<NodeProto> Consumers(string t) => consumers.TryGetValue(t, out var l) ? l : [];
        PretrainedException Refuse(NodeProto? n, string why) =>
            new($"'{path}' is not a ResNet-18/34 backbone Edge can import: {(n is null ? "" : $"node '{(n.Name.Length > 0 ? n.Name : n.OpType)}' ({n.OpType}) ")}{why}");

        var input = ModelInspector.RealInputs(g).ToList();
        if (input.Count != 1) throw Refuse(null, $"it has {input.Count} inputs, a backbone takes one image");

        NodeProto Single(string tensor, string op, string where)
        {
            var list = Consumers(tensor).Where(n => n.OpType == op).ToList();
            if (list.Count != 1)
                throw Refuse(Consumers(tensor).FirstOrDefault(), $"{where}: expected one {op} reading '{tensor}', found {list.Count}");
            return list[0];
        }

        float[] Floats(NodeProto n, int index)
        {
            if (index >= n.Input.Count || !inits.TryGetValue(n.Input[index], out var t))
                throw Refuse(n, $"input {index} is not a constant weight");
            return TensorData.ToFloats(t);
        }

        // A Conv, then a BatchNormalization (or the BatchNorm folded into the Conv's bias).
        (ConvBnWeights Weights, string Output) ConvBn(NodeProto conv, int kernel)
        {
            var k = conv.Attribute.FirstOrDefault(a => a.Name == "kernel_shape")?.Ints.ToArray() ?? [];
            if (k.Length != 2 || k[0] != kernel || k[1] != kernel) throw Refuse(conv, $"has kernel {string.Join("x", k)}, expected {kernel}x{kernel}");
            if (conv.Attribute.FirstOrDefault(a => a.Name == "group") is { I: > 1 }) throw Refuse(conv, "is grouped");
            var stride = (int)(conv.Attribute.FirstOrDefault(a => a.Name == "strides")?.Ints.FirstOrDefault() ?? 1);
            var w = inits.TryGetValue(conv.Input[1], out var wt) ? wt : throw Refuse(conv, "has no constant weight");
            var weight = TensorData.ToFloats(w);
            var outC = (int)w.Dims[0];
            var bias = conv.Input.Count > 2 && conv.Input[2].Length > 0 ? Floats(conv, 2) : new float[outC];
            var next = Consumers(conv.Output[0]);
            if (next.Count == 1 && next[0].OpType == "BatchNormalization")
            {
                var bn = next[0];
                var (gamma, beta, mean, var) = (Floats(bn, 1), Floats(bn, 2), Floats(bn, 3), Floats(bn, 4));
                var eps = bn.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
                // BN(conv + b) with Edge's eps (1e-5): the conv's bias moves into the mean, a different eps into the variance.
                for (var c = 0; c < outC; c++) { mean[c] -= bias[c]; var[c] = var[c] + eps - 1e-5f; }
                return (new ConvBnWeights(conv.Name, weight, [.. w.Dims], stride, gamma, beta, mean, var), bn.Output[0]);
            }
            // Folded: an identity BatchNorm (var 1 - eps so that sqrt(var + eps) = 1) that adds the bias.
            return (new ConvBnWeights(conv.Name, weight, [.. w.Dims], stride, Enumerable.Repeat(1f, outC).ToArray(), bias,
                new float[outC], Enumerable.Repeat(1f - 1e-5f, outC).ToArray()), conv.Output[0]);
        }

        string After(string tensor, string op, string where)
        {
            var n = Single(tensor, op, where);
            return n.Output[0];
        }

        var x = input[0].Name;
        var (stem, stemOut) = ConvBn(Single(x, "Conv", "the stem"), 7);
        if (stem.Stride != 2) throw Refuse(null, "the stem convolution is not stride 2");
        var current = After(After(stemOut, "Relu", "the stem"), "MaxPool", "the stem");

        var blocks = new List<(ConvBnWeights, ConvBnWeights, ConvBnWeights?)>();
        while (true)
        {
            var convs = Consumers(current).Where(n => n.OpType == "Conv").ToList();
            if (convs.Count == 0) break; // the pooling at the end
            if (convs.Count > 2) throw Refuse(convs[2], "a third convolution reads a block's input");
            NodeProto? shortcutConv = null, mainConv;
            if (convs.Count == 2)
            {
                shortcutConv = convs.FirstOrDefault(c => c.Attribute.FirstOrDefault(a => a.Name == "kernel_shape")?.Ints.FirstOrDefault() == 1)
                    ?? throw Refuse(convs[0], "two convolutions read a block's input and neither is a 1x1 shortcut");
                mainConv = convs.First(c => c != shortcutConv);
            }
            else mainConv = convs[0];
            var (conv1, c1Out) = ConvBn(mainConv, 3);
            var (conv2, c2Out) = ConvBn(Single(After(c1Out, "Relu", "a block"), "Conv", "a block"), 3);
            ConvBnWeights? down = null;
            var shortcut = current;
            if (shortcutConv is not null) (down, shortcut) = ConvBn(shortcutConv, 1);
            var add = Single(c2Out, "Add", "a block's sum");
            if (!add.Input.Contains(shortcut)) throw Refuse(add, "does not add the block's shortcut");
            current = After(add.Output[0], "Relu", "a block's end");
            blocks.Add((conv1, conv2, down));
        }
        var tail = Consumers(current).FirstOrDefault();
        if (tail is not null && tail.OpType is not ("AveragePool" or "GlobalAveragePool"))
            throw Refuse(tail, "follows the last block where a global average pool was expected");

        // Stages: a block with a shortcut convolution starts a new one (the first stage has none).
        var depths = new List<int> { 0 };
        foreach (var (_, _, d) in blocks)
        {
            if (d is not null) depths.Add(0);
            depths[^1]++;
        }
        int[] channels = [.. blocks.Select(b => (int)b.Item2.Shape[0]).Distinct()];
        if (depths.Count != 4 || depths.Any(d => d > 16) || !channels.SequenceEqual([64, 128, 256, 512]))
            throw Refuse(null, $"its blocks per stage are [{string.Join(", ", depths)}] with {string.Join("/", channels)} channels; Edge imports ResNets of basic blocks in 4 stages of 64/128/256/512 channels (ResNet-18, -34)");
        return new ResNetWeights(path, [.. depths], stem, blocks);
    }

    /// <summary>Copies the backbone into <paramref name="net"/> (its classifier is left as initialised).</summary>
    public static void Load(ClassifierNet net, ResNetWeights w)
    {
        var spec = w.Spec(net.Spec.InputSize, net.Spec.Classes);
        if (net is not ResNet || net.Spec.Arch != spec.Arch || net.Spec.Blocks != spec.Blocks || net.Spec.Width != 1.0 || net.Spec.Channels != 3)
            throw new PretrainedException($"'{w.Source}' holds a {spec.Describe()}; the network is a {net.Spec.Describe()}");
        var parameters = net.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        foreach (var b in net.named_buffers()) parameters[b.name] = b.buffer;
        using var _ = no_grad();
        void Copy(string prefix, ConvBnWeights c)
        {
            void Set(string name, float[] values, long[] shape)
            {
                var target = parameters.TryGetValue($"{prefix}.{name}", out var t) ? t : throw new PretrainedException($"the network has no '{prefix}.{name}'");
                if (!target.shape.SequenceEqual(shape))
                    throw new PretrainedException($"'{c.Node}' in '{w.Source}' has shape [{string.Join(",", shape)}], the network's '{prefix}.{name}' [{string.Join(",", target.shape)}]");
                using var src = tensor(values, shape);
                target.copy_(src);
            }
            Set("conv.weight", c.Weight, c.Shape);
            Set("bn.weight", c.Gamma, [c.Gamma.Length]);
            Set("bn.bias", c.Beta, [c.Beta.Length]);
            Set("bn.running_mean", c.Mean, [c.Mean.Length]);
            Set("bn.running_var", c.Var, [c.Var.Length]);
        }
        Copy("stem", w.Stem);
        for (var i = 0; i < w.Blocks.Count; i++)
        {
            var (c1, c2, d) = w.Blocks[i];
            Copy($"blocks.{i}.conv1", c1);
            Copy($"blocks.{i}.conv2", c2);
            if (d is not null) Copy($"blocks.{i}.downsample", d);
        }
    }
}
