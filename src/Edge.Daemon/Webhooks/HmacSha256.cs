using System.Text;
using Edge.Daemon.Models;

namespace Edge.Daemon.Webhooks;

/// <summary>
/// HMAC-SHA256 (RFC 2104) on the managed <see cref="Sha256Hasher"/>: .NET's HMACSHA256 needs OpenSSL, which edged does not
/// require (see the hasher). Checked against .NET's and Python's hmac in the tests.
/// </summary>
public static class HmacSha256
{
    private const int BlockSize = 64;

    public static byte[] Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> message)
    {
        Span<byte> k = stackalloc byte[BlockSize];
        k.Clear();
        if (key.Length > BlockSize)
        {
            var h = new Sha256Hasher();
            h.Append(key);
            h.Finish().CopyTo(k);
        }
        else key.CopyTo(k);
        Span<byte> pad = stackalloc byte[BlockSize];
        for (var i = 0; i < BlockSize; i++) pad[i] = (byte)(k[i] ^ 0x36);
        var inner = new Sha256Hasher();
        inner.Append(pad);
        inner.Append(message);
        var innerHash = inner.Finish();
        for (var i = 0; i < BlockSize; i++) pad[i] = (byte)(k[i] ^ 0x5c);
        var outer = new Sha256Hasher();
        outer.Append(pad);
        outer.Append(innerHash);
        return outer.Finish();
    }

    /// <summary>The header value for <paramref name="body"/>: <c>sha256=</c> and the lowercase hex digest.</summary>
    public static string Signature(string secret, ReadOnlySpan<byte> body) => "sha256=" + Convert.ToHexStringLower(Compute(Encoding.UTF8.GetBytes(secret), body));
}
