using System.Net;
using System.Net.Sockets;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// The ports tests start processes on: outside the kernel's ephemeral range, so no outgoing connection of the suite
/// can take one between the moment a test picks it and the moment a (restarted) process binds it; outside the ranges
/// the in-process Orleans test clusters pick from; and never the same port twice.
/// </summary>
public sealed class FreePortsTests
{
    [Fact]
    public void Ports_lie_below_the_kernels_ephemeral_range_where_no_outgoing_connection_takes_a_port()
    {
        var low = FreePorts.EphemeralLow();
        var ports = FreePorts.Take(64);
        Assert.All(ports, port => Assert.InRange(port, FreePorts.First, low - 1));
    }

    [Fact]
    public void Ports_lie_below_the_range_the_in_process_test_clusters_take_theirs_from()
    {
        var ports = FreePorts.Take(64);
        Assert.All(ports, port => Assert.InRange(port, FreePorts.First, FreePorts.OrleansTestClusterFirst - 1));
    }

    [Fact]
    public void Ports_are_never_handed_out_twice_even_once_released()
    {
        var first = FreePorts.Take(50);
        var second = FreePorts.Take(50);
        Assert.Equal(100, first.Concat(second).Distinct().Count());
    }

    [Fact]
    public void A_port_someone_listens_on_is_skipped()
    {
        // Take the next port the class would hand out, listen on it, and ask again: the answer must be another port.
        var next = FreePorts.Take(1)[0] + 1;
        using var held = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            held.Bind(new IPEndPoint(IPAddress.Loopback, next));
            held.Listen();
        }
        catch (SocketException)
        {
            // Someone else holds it already: it must be skipped all the same.
        }
        var port = FreePorts.Take(1)[0];
        Assert.NotEqual(next, port);
    }
}
