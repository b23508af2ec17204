namespace Edge.Core.Imaging;

public enum ImageErrorKind
{
    Empty,
    UnknownFormat,
    Truncated,
    Corrupt,
    TooLarge,
    Unreadable,
}

/// <summary>An image that cannot be used, with a reason a user can act on.</summary>
public sealed class ImageDecodeException(ImageErrorKind kind, string message, Exception? inner = null) : EdgeException(message, inner)
{
    public ImageErrorKind Kind { get; } = kind;
}
