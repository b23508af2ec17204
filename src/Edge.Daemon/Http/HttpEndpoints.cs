using System.Globalization;
using System.Net;

namespace Edge.Daemon.Http;

/// <summary>One address the API listens on. A null address means "localhost" (127.0.0.1 and ::1).</summary>
public sealed record HttpEndpoint(string Text, IPAddress? Address, int Port)
{
    public bool IsLoopback => Address is null || IPAddress.IsLoopback(Address);

    public override string ToString() => Address is null ? $"http://localhost:{Port}"
        : Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"http://[{Address}]:{Port}" : $"http://{Address}:{Port}";
}

/// <summary>
/// Reads <c>Http:Url</c> into exactly the endpoints the server binds, so that what is validated
/// (loopback or not, token or not) is what listens. Several endpoints are separated by ';'. Each is
/// http://IP:PORT or http://localhost:PORT with no path; IPv4-mapped IPv6 addresses are taken as the
/// IPv4 address they carry. Host names other than localhost are refused: the server would listen on
/// every interface for them.
/// </summary>
public static class HttpEndpoints
{
    /// <summary>The endpoints of <paramref name="value"/>; problems are added to <paramref name="errors"/> (each naming Http:Url).</summary>
    public static List<HttpEndpoint> Parse(string value, List<string> errors)
    {
        var endpoints = new List<HttpEndpoint>();
        var parts = value.Split(';', StringSplitOptions.TrimEntries);
        if (parts.All(p => p.Length == 0))
        {
            errors.Add("Http:Url: is empty; give http://127.0.0.1:8780 or another http://IP:PORT");
            return endpoints;
        }
        foreach (var text in parts)
        {
            if (text.Length == 0) continue;
            string? Bad(string why)
            {
                errors.Add($"Http:Url: '{text}' {why}");
                return null;
            }
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri)) { Bad("is not a URL; expected http://IP:PORT such as http://127.0.0.1:8780"); continue; }
            if (uri.Scheme != "http")
            {
                Bad(uri.Scheme == "https" ? "uses https, which edged does not serve; use http on loopback, or put a TLS proxy in front" : "is not an http:// URL");
                continue;
            }
            if (uri.UserInfo.Length > 0) { Bad("has a user name; the API uses Http:Token instead"); continue; }
            if (uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0)
            {
                Bad($"has a path or query ('{uri.PathAndQuery}{uri.Fragment}'); edged serves at the root: give only http://IP:PORT");
                continue;
            }
            if (uri.Port is < 1 or > 65535) { Bad("needs a port 1..65535"); continue; }
            IPAddress? address;
            if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6)
            {
                address = IPAddress.Parse(uri.Host.Trim('[', ']'));
                if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
                if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && address.ScopeId != 0 && !address.IsIPv6LinkLocal)
                {
                    Bad("has a scope id on an address that is not link-local");
                    continue;
                }
            }
            else if (string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase)) address = null;
            else
            {
                Bad($"names the host '{uri.Host}'; give an IP address (127.0.0.1 for this machine only, 0.0.0.0 for every interface) or localhost");
                continue;
            }
            var endpoint = new HttpEndpoint(text, address, uri.Port);
            if (endpoints.Any(e => e.Port == endpoint.Port && Overlaps(e.Address, endpoint.Address)))
            {
                Bad($"repeats port {uri.Port.ToString(CultureInfo.InvariantCulture)} on the same address");
                continue;
            }
            endpoints.Add(endpoint);
        }
        return endpoints;
    }

    /// <summary>Whether two endpoints on one port would bind the same socket (localhost is 127.0.0.1 and ::1; any-address covers all).</summary>
    private static bool Overlaps(IPAddress? a, IPAddress? b)
    {
        if (IsAny(a) || IsAny(b)) return true;
        if (a is null || b is null)
        {
            var other = a ?? b;
            return other is null || other.Equals(IPAddress.Loopback) || other.Equals(IPAddress.IPv6Loopback);
        }
        return a.Equals(b);
    }

    private static bool IsAny(IPAddress? a) => a is not null && (a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any));
}
