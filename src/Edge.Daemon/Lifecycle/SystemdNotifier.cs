using System.Net.Sockets;
using System.Text;

namespace Edge.Daemon.Lifecycle;

/// <summary>
/// sd_notify(3) without libsystemd: datagrams to the socket in NOTIFY_SOCKET (READY=1 for
/// Type=notify, WATCHDOG=1 pings at half of WATCHDOG_USEC, STOPPING=1). Does nothing when not
/// started by systemd. Microsoft.Extensions.Hosting.Systemd was considered: its lifetime says READY=1 when
/// the web host has started, before the pipeline classifies, and it has no watchdog heartbeat (left undone
/// in dotnet/extensions#1241), which edged feeds only while classification works; its notifier would
/// replace only <see cref="Send"/>.
/// </summary>
public sealed class SystemdNotifier : IDisposable
{
    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _endpoint;

    public SystemdNotifier(string? socketPath = null, string? watchdogUsec = null)
    {
        socketPath ??= Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        watchdogUsec ??= Environment.GetEnvironmentVariable("WATCHDOG_USEC");
        if (!string.IsNullOrEmpty(socketPath))
        {
            // A leading '@' names an abstract socket.
            _endpoint = new UnixDomainSocketEndPoint(socketPath[0] == '@' ? "\0" + socketPath[1..] : socketPath);
            _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        }
        if (long.TryParse(watchdogUsec, out var usec) && usec > 0)
            WatchdogInterval = TimeSpan.FromMicroseconds(usec / 2.0);
    }

    public bool Enabled => _socket is not null;
    /// <summary>How often to ping, when systemd's watchdog is on.</summary>
    public TimeSpan? WatchdogInterval { get; }

    public void Ready(string status = "") => Send("READY=1" + (status.Length > 0 ? "\nSTATUS=" + status : ""));
    public void Watchdog() => Send("WATCHDOG=1");
    public void Stopping() => Send("STOPPING=1");
    public void Status(string status) => Send("STATUS=" + status);

    private void Send(string message)
    {
        if (_socket is null || _endpoint is null) return;
        try { _socket.SendTo(Encoding.UTF8.GetBytes(message), _endpoint); }
        catch (SocketException) { } // systemd gone: nothing to tell
    }

    public void Dispose() => _socket?.Dispose();
}
