using Registry.Abstractions;

namespace Registry.Gateway.Mqtt;

/// <summary>
/// A device's MQTT session at this edge once its CONNECT was granted: what every later call to its device grain
/// names (the session, and the key its token was checked with), and the one connection to close when it ends.
/// </summary>
internal sealed record MqttDeviceSession(string DeviceId, Guid SessionId, string? KeyFingerprint, IDeviceGrain Grain, EdgeChannel Channel)
{
    /// <summary>The token the session connected with when a shared access policy signed it, checked again when the policies change.</summary>
    public string? PolicyToken { get; init; }

    /// <summary>Ends the session when the token it connected with expires; disposed when the session ends.</summary>
    public ITimer? Expiry;

    /// <summary>When the device grain last heard of this session (a <see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long LastGrainCall;

    public DeviceSession ToDeviceSession(IDeviceSessionObserver observer) => new(SessionId, observer, KeyFingerprint);

    public DeviceMessage Messages(int count) => new(DeviceTransport.Mqtt, SessionId, KeyFingerprint, count);
}
