using System.Runtime.InteropServices;

namespace Edge.Core.Interop;

/// <summary>
/// The few entry points of libSkiaSharp's C API that decoding needs, called directly so that a
/// decode in the frame loop creates no managed wrapper objects (SkiaSharp's SKCodec/SKData each
/// allocate and register a handle per call). All Skia interop of the hot path lives here.
/// </summary>
internal static partial class SkiaCodecNative
{
    private const string Library = "libSkiaSharp";

    // Values of SkiaSharp's C enums (include/c/sk_types.h of the SkiaSharp native build); a test
    // decodes the same images through SkiaSharp's managed API to prove they still match.
    public const int ColorTypeRgba8888 = 4;
    public const int AlphaTypeUnpremul = 3;
    public const int ZeroInitializedNo = 1;
    public const int NoFrame = -1;

    public enum Result
    {
        Success = 0,
        IncompleteInput = 1,
        ErrorInInput = 2,
        InvalidConversion = 3,
        InvalidScale = 4,
        InvalidParameters = 5,
        InvalidInput = 6,
        CouldNotRewind = 7,
        InternalError = 8,
        Unimplemented = 9,
    }

    public enum EncodedFormat { Bmp = 0, Gif = 1, Ico = 2, Jpeg = 3, Png = 4, Wbmp = 5, Webp = 6, Pkm = 7, Ktx = 8, Astc = 9, Dng = 10, Heif = 11, Avif = 12, JpegXl = 13 }

    [StructLayout(LayoutKind.Sequential)]
    public struct ImageInfo
    {
        public IntPtr ColorSpace;
        public int Width;
        public int Height;
        public int ColorType;
        public int AlphaType;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct ISize
    {
        public int Width;
        public int Height;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CodecOptions
    {
        public int ZeroInitialized;
        public IntPtr Subset;
        public int FrameIndex;
        public int PriorFrame;
    }

    /// <summary>Wraps caller-owned memory without copying; no release proc, the caller keeps it alive.</summary>
    [LibraryImport(Library, EntryPoint = "sk_data_new_with_proc")]
    public static unsafe partial IntPtr DataNewWithProc(void* ptr, nuint length, IntPtr releaseProc, IntPtr context);

    [LibraryImport(Library, EntryPoint = "sk_data_unref")]
    public static partial void DataUnref(IntPtr data);

    [LibraryImport(Library, EntryPoint = "sk_codec_new_from_data")]
    public static partial IntPtr CodecNewFromData(IntPtr data);

    [LibraryImport(Library, EntryPoint = "sk_codec_destroy")]
    public static partial void CodecDestroy(IntPtr codec);

    [LibraryImport(Library, EntryPoint = "sk_codec_get_info")]
    public static partial void CodecGetInfo(IntPtr codec, out ImageInfo info);

    [LibraryImport(Library, EntryPoint = "sk_codec_get_origin")]
    public static partial int CodecGetOrigin(IntPtr codec);

    [LibraryImport(Library, EntryPoint = "sk_codec_get_encoded_format")]
    public static partial int CodecGetEncodedFormat(IntPtr codec);

    [LibraryImport(Library, EntryPoint = "sk_codec_get_scaled_dimensions")]
    public static partial void CodecGetScaledDimensions(IntPtr codec, float desiredScale, out ISize dimensions);

    [LibraryImport(Library, EntryPoint = "sk_codec_get_pixels")]
    public static unsafe partial Result CodecGetPixels(IntPtr codec, in ImageInfo info, void* pixels, nuint rowBytes, in CodecOptions options);
}
