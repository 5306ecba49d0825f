using System.Net;
using System.Net.Sockets;

namespace Registry.Tests.Infrastructure;

/// <summary>Loopback ports nobody is listening on right now, for silos and gateways started by tests.</summary>
public static class FreePorts
{
    public static int[] Take(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ =>
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return listener;
        }).ToArray();
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var listener in listeners)
        {
            listener.Stop();
        }
        return ports;
    }
}
