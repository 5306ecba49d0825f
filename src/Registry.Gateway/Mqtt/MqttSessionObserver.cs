using Registry.Abstractions;

namespace Registry.Gateway.Mqtt;

/// <summary>
/// This process's one <see cref="IDeviceSessionObserver"/>: device grains call it (one-way) to close a session they
/// no longer accept, after an acknowledged delete, disable or re-key, or when a newer connection replaced it.
/// </summary>
internal sealed class MqttSessionObserver(MqttDeviceEdge edge) : IDeviceSessionObserver
{
    public Task Close(string deviceId, Guid sessionId, SessionCloseReason reason)
    {
        edge.Close(deviceId, sessionId, reason);
        return Task.CompletedTask;
    }
}
