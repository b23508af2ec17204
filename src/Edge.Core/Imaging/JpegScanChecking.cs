using static Edge.Core.Interop.SkiaCodecNative;

namespace Edge.Core.Imaging;

/// <summary>When the decoder walks a JPEG's scan (which costs about as much as libjpeg's own Huffman decoding).</summary>
public enum JpegScanChecking
{
    /// <summary>Never: a frame cut off mid-scan decodes as a grey-filled whole.</summary>
    Off,
    /// <summary>
    /// Only when the decoded image ends in libjpeg's grey fill (luma 128 in its last block), which every
    /// frame cut off before its last block does: catches cut-off camera frames at almost no cost. For camera frames.
    /// </summary>
    WhenGreyFilled,
    /// <summary>Every JPEG: also catches invalid Huffman codes and missing restart markers anywhere. For uploads and files.</summary>
    Always,
}
