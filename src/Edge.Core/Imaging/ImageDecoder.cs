using Edge.Core.Interop;
using Edge.Onnx.Metadata;
using static Edge.Core.Interop.SkiaCodecNative;

namespace Edge.Core.Imaging;

/// <summary>
/// Decodes JPEG, PNG, BMP, WebP and GIF (first frame) with Skia into a reusable
/// <see cref="PixelBuffer"/>, upright (EXIF orientation applied). Not thread-safe: one per pipeline.
/// </summary>
public sealed unsafe class ImageDecoder(ImageDecoderOptions? options = null) : IDisposable
{
    private readonly PixelBuffer _stored = new(); // stored orientation, before EXIF rotation
    private JpegScanCheck? _scanCheck;
    public ImageDecoderOptions Options { get; } = options ?? new ImageDecoderOptions();

    /// <summary>Decodes <paramref name="encoded"/> into <paramref name="output"/>.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image; <see cref="ImageDecodeException.Kind"/> says why.</exception>
    public DecodeInfo Decode(ReadOnlySpan<byte> encoded, PixelBuffer output, ScaleHint hint = default) =>
        WithCodec(encoded, (Decoder: this, output, hint), static (codec, bytes, s) => s.Decoder.DecodeWith(codec, bytes, s.output, s.hint));

    /// <summary>An image's size as displayed (EXIF orientation applied), read from its header without decoding pixels.</summary>
    /// <exception cref="ImageDecodeException">Not an image Skia can read.</exception>
    public static (int Width, int Height) ReadSize(ReadOnlySpan<byte> encoded) =>
        WithCodec(encoded, 0, static (codec, _, _) =>
        {
            CodecGetInfo(codec, out var info);
            return CodecGetOrigin(codec) >= 5 ? (info.Height, info.Width) : (info.Width, info.Height);
        });

    private delegate TResult CodecUse<TState, TResult>(IntPtr codec, ReadOnlySpan<byte> encoded, TState state);

    /// <summary>Opens a Skia codec over <paramref name="encoded"/> (no copy), runs <paramref name="use"/>, and frees it.</summary>
    private static TResult WithCodec<TState, TResult>(ReadOnlySpan<byte> encoded, TState state, CodecUse<TState, TResult> use)
    {
        if (encoded.IsEmpty) throw new ImageDecodeException(ImageErrorKind.Empty, "the image is empty (0 bytes)");
        fixed (byte* bytes = encoded)
        {
            var data = DataNewWithProc(bytes, (nuint)encoded.Length, IntPtr.Zero, IntPtr.Zero);
            if (data == IntPtr.Zero) throw new ImageDecodeException(ImageErrorKind.Corrupt, "Skia could not wrap the image bytes");
            var codec = IntPtr.Zero;
            try
            {
                codec = CodecNewFromData(data);
                if (codec == IntPtr.Zero) throw Unrecognised(encoded);
                return use(codec, encoded, state);
            }
            finally
            {
                if (codec != IntPtr.Zero) CodecDestroy(codec);
                DataUnref(data);
            }
        }
    }

    private DecodeInfo DecodeWith(IntPtr codec, ReadOnlySpan<byte> encoded, PixelBuffer output, ScaleHint hint)
    {
        CodecGetInfo(codec, out var info);
        var format = (EncodedFormat)CodecGetEncodedFormat(codec);
        var origin = CodecGetOrigin(codec);
        if (origin is < 1 or > 8) origin = 1;
        if (info.Width <= 0 || info.Height <= 0)
            throw new ImageDecodeException(ImageErrorKind.Corrupt, $"the {FormatName(format)} header gives an empty size {info.Width}x{info.Height}");
        var pixels = (long)info.Width * info.Height;
        if (pixels > Options.MaxPixels)
            throw new ImageDecodeException(ImageErrorKind.TooLarge,
                $"the image is {info.Width}x{info.Height} ({pixels / 1e6:0.#} megapixels), over the limit of {Options.MaxPixels / 1e6:0.#} megapixels");
        var transposed = origin >= 5;
        var (displayW, displayH) = transposed ? (info.Height, info.Width) : (info.Width, info.Height);
        var (w, h) = (info.Width, info.Height);
        if (format == EncodedFormat.Jpeg && Options.ScaledJpegDecode && !hint.IsNone)
        {
            var scale = DctScale(Preprocessor.RequiredScale(displayW, displayH, hint));
            if (scale < 1f)
            {
                CodecGetScaledDimensions(codec, scale, out var size);
                if (size.Width > 0 && size.Height > 0) (w, h) = (size.Width, size.Height);
            }
        }

        var target = origin == 1 ? output : _stored;
        target.Reset(w, h);
        var dst = new ImageInfo { Width = w, Height = h, ColorType = ColorTypeRgba8888, AlphaType = AlphaTypeUnpremul };
        var opts = new CodecOptions { ZeroInitialized = ZeroInitializedNo, FrameIndex = 0, PriorFrame = NoFrame };
        var result = CodecGetPixels(codec, in dst, target.Pointer, (nuint)target.RowBytes, in opts);
        switch (result)
        {
            case Result.Success:
                break;
            case Result.IncompleteInput:
                throw new ImageDecodeException(ImageErrorKind.Truncated,
                    $"the {FormatName(format)} data ends early (truncated file or cut-off frame)");
            case Result.ErrorInInput or Result.InvalidInput:
                throw new ImageDecodeException(ImageErrorKind.Corrupt, $"the {FormatName(format)} data is corrupt");
            default:
                throw new ImageDecodeException(ImageErrorKind.Corrupt, $"the {FormatName(format)} image cannot be decoded (an unsupported variant or damaged data)");
        }

        // libjpeg decodes a frame whose scan stops early (a cut-off camera frame that still ends with an
        // end-of-image marker) as whole, leaving every block after the cut at zero: mid grey, luma exactly
        // 128, down to the image's last block. The scan walk confirms it (for camera frames, only then).
        if (format == EncodedFormat.Jpeg
            && (Options.ScanCheck == JpegScanChecking.Always || (Options.ScanCheck == JpegScanChecking.WhenGreyFilled && LastBlockIsGreyFill(target))))
        {
            var check = _scanCheck ??= new JpegScanCheck();
            switch (check.Check(encoded))
            {
                case JpegScanCheck.Problem.Truncated:
                    throw new ImageDecodeException(ImageErrorKind.Truncated,
                        $"the JPEG data ends early: its scan stops after {check.LastCount.Found} of {check.LastCount.Expected} blocks (a cut-off frame)");
                case JpegScanCheck.Problem.BadCode:
                    throw new ImageDecodeException(ImageErrorKind.Corrupt, "the JPEG data is corrupt (an invalid Huffman code in its scan)");
                case JpegScanCheck.Problem.MissingRestart:
                    throw new ImageDecodeException(ImageErrorKind.Corrupt, "the JPEG data is corrupt (a restart marker is missing or out of order)");
            }
        }

        if (origin != 1) Orientation.Apply(_stored.View, origin, output);
        return new DecodeInfo(FormatName(format), displayW, displayH, origin, output.Width, output.Height);
    }

    /// <summary>Whether the bottom-right pixel (in the encoded image's last block) has the luma of libjpeg's zero fill, 128.</summary>
    private static bool LastBlockIsGreyFill(PixelBuffer image)
    {
        var px = image.View.Row(image.Height - 1)[((image.Width - 1) * 4)..];
        var luma = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
        return Math.Abs(luma - 128) <= 2;
    }

    /// <summary>The largest power-of-two reduction (1/2, 1/4, 1/8) that still keeps <paramref name="required"/> of the detail.</summary>
    internal static float DctScale(float required)
    {
        // Power-of-two scales use libjpeg-turbo's fast reduced IDCTs; 3/8, 5/8... are slower than a full decode.
        var scale = 1f;
        while (scale > 0.125f && scale / 2 >= required) scale /= 2;
        return scale;
    }

    private static ImageDecodeException Unrecognised(ReadOnlySpan<byte> bytes)
    {
        var known = Sniff(bytes);
        return known is null
            ? new ImageDecodeException(ImageErrorKind.UnknownFormat,
                $"not an image Edge can read (JPEG, PNG, BMP, WebP, GIF); the data starts with {Convert.ToHexString(bytes[..Math.Min(8, bytes.Length)])}")
            : new ImageDecodeException(ImageErrorKind.Truncated, $"the {known} header is truncated or corrupt ({bytes.Length} bytes)");
    }

    /// <summary>Names the format from its signature, to tell a broken image from something that is not an image.</summary>
    internal static string? Sniff(ReadOnlySpan<byte> b)
    {
        if (b.Length >= 2 && b[0] == 0xFF && b[1] == 0xD8) return "JPEG";
        if (b.Length >= 4 && b[0] == 0x89 && b[1] == (byte)'P' && b[2] == (byte)'N' && b[3] == (byte)'G') return "PNG";
        if (b.Length >= 2 && b[0] == (byte)'B' && b[1] == (byte)'M') return "BMP";
        if (b.Length >= 4 && b[0] == (byte)'G' && b[1] == (byte)'I' && b[2] == (byte)'F' && b[3] == (byte)'8') return "GIF";
        if (b.Length >= 4 && b[..4].SequenceEqual("RIFF"u8)) return "WebP"; // RIFF....WEBP, possibly cut before the WEBP tag
        return null;
    }

    private static string FormatName(EncodedFormat format) => format switch
    {
        EncodedFormat.Jpeg => "JPEG",
        EncodedFormat.Png => "PNG",
        EncodedFormat.Bmp => "BMP",
        EncodedFormat.Webp => "WebP",
        EncodedFormat.Gif => "GIF",
        EncodedFormat.Ico => "ICO",
        EncodedFormat.Wbmp => "WBMP",
        _ => format.ToString().ToUpperInvariant(),
    };

    /// <summary>Frees the rotation buffer when larger than <paramref name="maxBytes"/>.</summary>
    public void Trim(long maxBytes) => _stored.Trim(maxBytes);

    public void Dispose() => _stored.Dispose();
}
