using Edge.Core.Imaging;
using Edge.Onnx.Metadata;
using Edge.Onnx.Model;
using Edge.Onnx.Protos;

namespace Edge.Core.Inference;

/// <summary>
/// Works out a classifier's input, output, labels and preprocessing from its graph and the
/// settings sources, in order of precedence: command-line overrides, sidecar file, model
/// metadata, documented defaults. Refuses, with the reason, a model Edge cannot feed.
/// </summary>
public static class ModelDescriber
{
    /// <summary>Most input tensor memory a model may need for its batch.</summary>
    public const long MaxInputBytes = 512L * 1024 * 1024;

    public static ModelDescriptor Describe(ModelProto model, string path, ModelSettings? overrides = null, string overridesSource = "command line")
    {
        var graph = model.Graph;
        var inputs = ModelInspector.RealInputs(graph).ToList();
        if (inputs.Count != 1)
            throw new ModelLoadException(
                $"'{path}' has {inputs.Count} inputs ({string.Join(", ", inputs.Select(i => i.Name))}); an Edge classifier takes exactly one image input");
        var input = inputs[0];
        var inSig = ModelInspector.Signature(input);
        var inType = input.Type?.TensorType;
        if (inType is null || inType.ElemType != (int)TensorProto.Types.DataType.Float)
            throw new ModelLoadException($"'{path}' input {inSig} is not a float32 tensor; Edge feeds float32 images");
        var dims = inType.Shape?.Dim.ToList() ?? [];
        long? Fixed(int i) => dims[i].HasDimValue && dims[i].DimValue > 0 ? dims[i].DimValue : null;
        if (dims.Count != 4)
            throw new ModelLoadException(
                $"'{path}' input {inSig} has rank {dims.Count}; expected an image tensor [N,C,H,W] or [N,H,W,C] with C = 1 or 3");
        TensorLayout layout;
        int channels;
        if (Fixed(1) is 1 or 3) { layout = TensorLayout.Nchw; channels = (int)Fixed(1)!.Value; }
        else if (Fixed(3) is 1 or 3) { layout = TensorLayout.Nhwc; channels = (int)Fixed(3)!.Value; }
        else
            throw new ModelLoadException(
                $"'{path}' input {inSig} is not an image tensor: expected [N,C,H,W] or [N,H,W,C] with C = 1 or 3");
        var (hIndex, wIndex) = layout == TensorLayout.Nchw ? (2, 3) : (1, 2);
        var fixedH = Fixed(hIndex);
        var fixedW = Fixed(wIndex);
        // Numbers from the file are checked before any of them sizes an allocation or is cast to int.
        if (fixedH > ModelLimits.MaxInputSide || fixedW > ModelLimits.MaxInputSide)
            throw new ModelLoadException(
                $"'{path}' input {inSig} is {fixedW?.ToString() ?? "?"}x{fixedH?.ToString() ?? "?"} pixels; Edge supports inputs up to {ModelLimits.MaxInputSide}x{ModelLimits.MaxInputSide}");
        if (Fixed(0) > ModelLimits.MaxFixedBatch)
            throw new ModelLoadException($"'{path}' input {inSig} has a fixed batch of {Fixed(0)}; Edge runs batches of 1..{ModelLimits.MaxFixedBatch}");

        if (graph.Output.Count == 0) throw new ModelLoadException($"'{path}' has no output");
        var output = graph.Output[0];
        var outSig = ModelInspector.Signature(output);
        var outType = output.Type?.TensorType;
        if (outType is null || outType.ElemType != (int)TensorProto.Types.DataType.Float)
            throw new ModelLoadException($"'{path}' output {outSig} is not a float32 tensor of class scores");
        var outDims = outType.Shape?.Dim.ToList() ?? [];
        // [N, K] or [N, K, 1, 1] (a conv head without Flatten).
        if (outDims.Count < 2 || outDims.Skip(2).Any(d => !(d.HasDimValue && d.DimValue == 1)))
            throw new ModelLoadException($"'{path}' output {outSig} is not [N, classes]; an Edge classifier outputs one score per class");
        if (outDims[1].HasDimValue && outDims[1].DimValue > ModelLimits.MaxClasses)
            throw new ModelLoadException($"'{path}' output {outSig} declares {outDims[1].DimValue} classes; Edge supports at most {ModelLimits.MaxClasses}");
        int? outputClasses = outDims[1].HasDimValue && outDims[1].DimValue > 0 ? (int)outDims[1].DimValue : null;

        // Settings, lowest precedence first.
        var props = model.MetadataProps.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value);
        ModelSettings fromModel, fromSidecar = ModelSettings.Empty, fromFlags = overrides ?? ModelSettings.Empty;
        try
        {
            fromModel = ModelSettings.FromMetadata(props, "model metadata");
        }
        catch (FormatException e)
        {
            throw new ModelLoadException($"'{path}': {e.Message}", e);
        }
        var sidecarPath = File.Exists(path) ? SidecarFile.Find(path) : null;
        if (sidecarPath is not null)
        {
            try { fromSidecar = SidecarFile.Load(sidecarPath); }
            catch (Exception e) when (e is FormatException or IOException)
            {
                throw new ModelLoadException(e.Message, e);
            }
        }
        var merged = fromModel.Overlay(fromSidecar).Overlay(fromFlags);

        PreprocessingSpec spec;
        try
        {
            spec = PreprocessingSpec.Resolve(merged, channels, (int?)fixedW, (int?)fixedH);
        }
        catch (FormatException e)
        {
            throw new ModelLoadException($"'{path}': {e.Message}", e);
        }

        var fixedBatch = Fixed(0) is { } b ? (int)b : (int?)null;
        var imageBytes = 4L * spec.Channels * spec.Width * spec.Height;
        if (fixedBatch is { } fb && fb * imageBytes > MaxInputBytes)
            throw new ModelLoadException(
                $"'{path}' has a fixed batch of {fb} images of {spec.Width}x{spec.Height}, which needs {fb * imageBytes / (1024.0 * 1024):0} MiB of input memory; at most {MaxInputBytes / (1024 * 1024)} MiB is allowed");

        string labelSource;
        IReadOnlyList<string> labels;
        if (merged.Labels is { } given)
        {
            labelSource = fromFlags.Labels is not null ? overridesSource
                : fromSidecar.Labels is not null ? $"sidecar '{sidecarPath}'"
                : $"model metadata '{ModelMetadataKeys.Labels}'";
            if (outputClasses is { } k && given.Count != k)
                throw new ModelLoadException(
                    $"'{path}' outputs {k} class scores but {given.Count} labels were given (from {labelSource})");
            labels = given;
        }
        else
        {
            if (outputClasses is null)
                throw new ModelLoadException(
                    $"'{path}' output {outSig} has a symbolic class count and no labels were given; add labels to say how many classes there are");
            labelSource = "default";
            labels = [.. Enumerable.Range(0, outputClasses.Value).Select(i => $"class_{i}")];
        }

        var outputKind = merged.Output ?? (EndsInSoftmax(graph, output.Name) ? OutputKind.Probabilities : OutputKind.Logits);

        var defaulted = new List<string>();
        if (merged.Labels is null) defaulted.Add("labels");
        if (merged.Color is null) defaulted.Add("color");
        if (merged.Resize is null) defaulted.Add("resize");
        if (merged.Scale is null) defaulted.Add("scale");
        if (merged.Mean is null) defaulted.Add("mean");
        if (merged.Std is null) defaulted.Add("std");

        return new ModelDescriptor
        {
            Path = path,
            InputName = input.Name,
            Layout = layout,
            FixedBatch = fixedBatch,
            OutputName = output.Name,
            OutputTail = [.. outDims.Skip(1).Select(d => d.HasDimValue && d.DimValue > 0 ? (int)d.DimValue : labels.Count)],
            ClassCount = labels.Count,
            Labels = labels,
            Preprocessing = spec,
            Output = outputKind,
            LabelSource = labelSource,
            Defaulted = defaulted,
            Metadata = props,
            Int8Weights = Int8Weights.Of(graph),
        };
    }

    /// <summary>True when the output is produced by Softmax (possibly through Identity/Reshape/Flatten).</summary>
    internal static bool EndsInSoftmax(GraphProto graph, string outputName)
    {
        var producers = new Dictionary<string, NodeProto>();
        foreach (var n in graph.Node)
            foreach (var o in n.Output) producers[o] = n;
        var name = outputName;
        for (var hops = 0; hops < 8 && producers.TryGetValue(name, out var node); hops++)
        {
            if (node.OpType == "Softmax") return true;
            if (node.OpType is not ("Identity" or "Reshape" or "Flatten" or "Squeeze") || node.Input.Count == 0) return false;
            name = node.Input[0];
        }
        return false;
    }
}
