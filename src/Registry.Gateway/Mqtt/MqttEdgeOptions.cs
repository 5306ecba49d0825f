namespace Registry.Gateway.Mqtt;

/// <summary>How the MQTT device edge holds its connections; the host sets them from its <c>Registry:Mqtt*</c> settings.</summary>
public sealed class MqttEdgeOptions
{
    /// <summary>From TCP accept to the MQTT CONNECT, TLS handshake included; a connection that takes longer is closed.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Most connections open at once (handshaking ones included); one more is closed at accept.</summary>
    public int MaxConnections { get; set; } = 100_000;

    /// <summary>
    /// How often each session whose device grain heard nothing from it for as long is re-asserted to its grain
    /// (<see cref="Registry.Abstractions.IDeviceGrain.Reattach"/>); zero: never.
    /// </summary>
    public TimeSpan SessionRefresh { get; set; } = TimeSpan.FromSeconds(15);
}
