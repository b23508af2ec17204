namespace Edge.Onnx.Metadata;

/// <summary>
/// Keys under which an Edge model carries its labels and preprocessing in ONNX <c>metadata_props</c>.
/// They are documented in README.md ("Model metadata"); changing one breaks every shipped model.
/// </summary>
public static class ModelMetadataKeys
{
    /// <summary>Format version of these keys ("1").</summary>
    public const string FormatVersion = "edge.format_version";
    /// <summary>JSON array of class names, one per output column: <c>["cat","dog"]</c>.</summary>
    public const string Labels = "edge.labels";
    /// <summary>Input size as <c>WIDTHxHEIGHT</c>, needed only when the model's input has symbolic height/width.</summary>
    public const string InputSize = "edge.preprocess.input_size";
    /// <summary><c>rgb</c>, <c>bgr</c> or <c>gray</c>.</summary>
    public const string Color = "edge.preprocess.color";
    /// <summary><c>squash</c>, <c>center-crop</c> or <c>letterbox</c>.</summary>
    public const string Resize = "edge.preprocess.resize";
    /// <summary>For center-crop: the fraction of the largest centred crop that is kept (ImageNet's 224/256 = 0.875).</summary>
    public const string CropFraction = "edge.preprocess.crop_fraction";
    /// <summary>Multiplier applied to 0..255 pixel values before mean/std (1/255 gives 0..1).</summary>
    public const string Scale = "edge.preprocess.scale";
    /// <summary>Comma-separated per-channel mean, in the scaled domain.</summary>
    public const string Mean = "edge.preprocess.mean";
    /// <summary>Comma-separated per-channel standard deviation, in the scaled domain.</summary>
    public const string Std = "edge.preprocess.std";
    /// <summary>Pixel value 0..255 used for letterbox bars (before normalisation).</summary>
    public const string LetterboxFill = "edge.preprocess.letterbox_fill";
    /// <summary><c>logits</c> or <c>probabilities</c>; when absent, a final Softmax node means probabilities.</summary>
    public const string Output = "edge.output";

    /// <summary>Informational keys written by edge-prep (shown by <c>edged inspect</c>).</summary>
    public const string Architecture = "edge.architecture";
    public const string TrainingData = "edge.training_data";
    public const string Accuracy = "edge.accuracy";
    /// <summary>Multiply-accumulates of one image, counted from the architecture by edge-prep.</summary>
    public const string Macs = "edge.macs";
    /// <summary>Free text naming this model's release (e.g. "2026-12-03" or "door-v4"); shown by edged's status beside the file's hash.</summary>
    public const string Version = "edge.version";
}
