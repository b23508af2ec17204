using Edge.Onnx.Metadata;
using static Edge.Core.Interop.SkiaCodecNative;

namespace Edge.Core.Imaging;

/// <summary>What the decoded image will be resized to, so the decoder can skip detail that would be thrown away.</summary>
public readonly record struct ScaleHint(int TargetWidth, int TargetHeight, ResizeMode Mode, float CropFraction = 1f)
{
    public static ScaleHint None => default;
    public bool IsNone => TargetWidth <= 0 || TargetHeight <= 0;

    public static ScaleHint For(PreprocessingSpec spec) => new(spec.Width, spec.Height, spec.Resize, spec.CropFraction);
}
