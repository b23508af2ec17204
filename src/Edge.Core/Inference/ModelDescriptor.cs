using Edge.Core.Imaging;
using Edge.Onnx.Metadata;
using Edge.Onnx.Model;

namespace Edge.Core.Inference;

/// <summary>Everything the runtime needs to know about a classifier, resolved and checked at load.</summary>
public sealed record ModelDescriptor
{
    public required string Path { get; init; }
    public required string InputName { get; init; }
    public required TensorLayout Layout { get; init; }
    /// <summary>Fixed batch size of the input, or null when the batch dimension is symbolic.</summary>
    public required int? FixedBatch { get; init; }
    public required string OutputName { get; init; }
    /// <summary>Output shape per image beyond the batch (e.g. [K] or [K,1,1]); its product is <see cref="ClassCount"/>.</summary>
    public required int[] OutputTail { get; init; }
    public required int ClassCount { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public required PreprocessingSpec Preprocessing { get; init; }
    public required OutputKind Output { get; init; }
    /// <summary>Where the labels came from ("model metadata", "sidecar x.json", "--labels", "default").</summary>
    public required string LabelSource { get; init; }
    /// <summary>Fields that fell back to documented defaults because no source stated them.</summary>
    public required IReadOnlyList<string> Defaulted { get; init; }
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }
    /// <summary>The INT8 weights, and whether their codes need VNNI on x86 (see <see cref="Int8Kernels"/>).</summary>
    public required Int8Weights Int8Weights { get; init; }

    public int[] InputShape(int batch) => Layout == TensorLayout.Nchw
        ? [batch, Preprocessing.Channels, Preprocessing.Height, Preprocessing.Width]
        : [batch, Preprocessing.Height, Preprocessing.Width, Preprocessing.Channels];
}
