using static Edge.Core.Interop.SkiaCodecNative;

namespace Edge.Core.Imaging;

/// <summary>What the decoder found and did.</summary>
public readonly record struct DecodeInfo(string Format, int SourceWidth, int SourceHeight, int Orientation, int DecodedWidth, int DecodedHeight)
{
    /// <summary>True when the JPEG decoder reduced the image in the DCT domain.</summary>
    public bool Downscaled => DecodedWidth * DecodedHeight < SourceWidth * SourceHeight;
}
