using static Edge.Core.Interop.SkiaCodecNative;

namespace Edge.Core.Imaging;

public sealed record ImageDecoderOptions
{
    /// <summary>Largest image file read from disk (a 50-megapixel JPEG is about 30 MiB).</summary>
    public const long MaxFileBytes = 256L * 1024 * 1024;

    /// <summary>Largest image accepted, in pixels (width × height of the encoded image); checked before any pixel memory is allocated.</summary>
    public long MaxPixels { get; init; } = 40_000_000;
    /// <summary>Let the JPEG decoder shrink by 1/2, 1/4 or 1/8 while decoding when the target is that much smaller.</summary>
    public bool ScaledJpegDecode { get; init; } = true;
    /// <summary>When to walk a JPEG's scan to refuse one that holds fewer blocks than its header promises (see <see cref="JpegScanCheck"/>).</summary>
    public JpegScanChecking ScanCheck { get; init; } = JpegScanChecking.Always;
}
