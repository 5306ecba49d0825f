using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// Loopback ports nobody is listening on right now, for silos, gateways and Azurite started by tests, taken from
/// <b>below the kernel's ephemeral range</b>. A port the kernel hands out for <c>bind(0)</c> is also the range it
/// picks every outgoing connection's local port from, so between a test taking such a port and binding it (or
/// between a <c>kill -9</c> of a silo and its restart on the same ports) any connection of the suite could take it:
/// a restarted silo then failed with "address already in use" (CI, <c>ClusterDownTests</c>). Below the range only an
/// explicit bind takes a port, and this class never hands out one port twice in a process. It also stays below
/// <see cref="OrleansTestClusterFirst"/>: the in-process test clusters (Orleans' <c>TestClusterPortAllocator</c>) pick
/// their silo ports from 22300–30000 (and gateway ports from 40000–50000) and bind them later, as these are.
/// </summary>
public static class FreePorts
{
    /// <summary>The lowest port handed out: clear of the well-known and common service ports.</summary>
    public const int First = 10_000;

    /// <summary>The first silo port Orleans' <c>TestClusterPortAllocator</c> may pick.</summary>
    public const int OrleansTestClusterFirst = 22_300;

    /// <summary>One past the highest port handed out.</summary>
    public static readonly int End = Math.Min(OrleansTestClusterFirst, EphemeralLow());

    private static int s_next = First + Random.Shared.Next(Math.Max(1, End - First));
    private static readonly Lock Gate = new();

    /// <summary>The first port of the kernel's ephemeral range (Linux' default 32768 where it cannot be read).</summary>
    public static int EphemeralLow()
    {
        const string file = "/proc/sys/net/ipv4/ip_local_port_range";
        if (File.Exists(file))
        {
            var parts = File.ReadAllText(file).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length > 0 && int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var low) && low > First + 1_000)
            {
                return low;
            }
        }
        return 32_768;
    }

    public static int[] Take(int count)
    {
        var ports = new int[count];
        lock (Gate)
        {
            for (var i = 0; i < count; i++)
            {
                ports[i] = NextBindable();
            }
        }
        return ports;
    }

    private static int NextBindable()
    {
        for (var tried = 0; tried < End - First; tried++)
        {
            var port = s_next;
            s_next = port + 1 >= End ? First : port + 1;
            if (Bindable(port))
            {
                return port;
            }
        }
        throw new InvalidOperationException($"No free loopback port between {First} and {End}.");
    }

    private static bool Bindable(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        finally
        {
            listener.Stop();
        }
    }
}
