using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Connections;

namespace Edge.Daemon.Http;

/// <summary>
/// Caps the connections one remote address may hold open, so one host on the network cannot take
/// every connection (idle keep-alives) and lock the API for everyone. Loopback is not capped: it is
/// this machine. Connections over the cap are closed at once.
/// </summary>
internal sealed class ConnectionLimiter(int perAddress)
{
    private readonly ConcurrentDictionary<IPAddress, int> _open = new();

    public ConnectionDelegate Middleware(ConnectionDelegate next) => async connection =>
    {
        if (connection.RemoteEndPoint is not IPEndPoint { Address: var address } || IPAddress.IsLoopback(address))
        {
            await next(connection);
            return;
        }
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (_open.AddOrUpdate(address, 1, (_, n) => n + 1) > perAddress)
        {
            Release(address);
            connection.Abort();
            return;
        }
        try
        {
            await next(connection);
        }
        finally
        {
            Release(address);
        }
    };

    private void Release(IPAddress address)
    {
        while (_open.TryGetValue(address, out var n))
        {
            if (n <= 1 ? _open.TryRemove(new KeyValuePair<IPAddress, int>(address, n)) : _open.TryUpdate(address, n - 1, n)) return;
        }
    }
}
