using Microsoft.AspNetCore.Connections;

namespace Registry.Gateway.Mqtt;

/// <summary>
/// The time a device connection has from its TCP accept to its first MQTT packet (TLS handshake included): then it
/// is aborted. MQTTnet has no such bound, so a socket that says nothing, or finishes TLS and then says nothing,
/// would hold a connection slot forever. On the registry's <see cref="TimeProvider"/>, so tests can drive it.
/// </summary>
internal sealed class ConnectDeadline : IDisposable
{
    private readonly ITimer _timer;
    private int _done;

    public ConnectDeadline(ConnectionContext connection, TimeProvider clock, TimeSpan timeout, Action<ConnectionContext> expired)
    {
        _timer = clock.CreateTimer(_ =>
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                expired(connection);
                connection.Abort(new ConnectionAbortedException("no MQTT CONNECT within the connect timeout"));
            }
        }, null, timeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The first packet arrived in time: the deadline no longer applies.</summary>
    public void Complete()
    {
        if (Interlocked.Exchange(ref _done, 1) == 0)
        {
            _timer.Dispose();
        }
    }

    public void Dispose() => _timer.Dispose();
}
