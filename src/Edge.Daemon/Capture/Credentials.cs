using System.Text.RegularExpressions;

namespace Edge.Daemon.Capture;

/// <summary>
/// Camera URLs carry passwords (http://admin:secret@camera/video, rtsp://user:pw@... inside an ffmpeg
/// command). What edged shows of a source (status API, page, logs, results) has them masked.
/// </summary>
public static partial class Credentials
{
    [GeneratedRegex(@"(?<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?<user>[^:/@\s""']*):(?<password>[^@\s/""']*)@")]
    private static partial Regex UserInfo();

    /// <summary><paramref name="text"/> with the password of every URL in it replaced by ***.</summary>
    public static string Mask(string text) => UserInfo().Replace(text, "${scheme}${user}:***@");
}
