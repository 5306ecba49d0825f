namespace Registry.Abstractions;

/// <summary>
/// One device identity, keyed by its case-sensitive deviceId: the single source of truth for that device.
/// Every identity write goes through here so ETag checks and the index protocol happen in one place.
/// </summary>
[Alias("registry.IDeviceGrain")]
public interface IDeviceGrain : IGrainWithStringKey
{
    /// <summary>Registers the device; fails with DeviceAlreadyExists when it is registered.</summary>
    [Alias("Create")]
    Task<DeviceIdentity> Create(DeviceIdentityInput input);

    /// <summary>The device, or null when it is not registered.</summary>
    [Alias("Get")]
    Task<DeviceIdentity?> Get();

    /// <summary>Replaces the writable fields when <paramref name="condition"/> matches; DeviceNotFound / PreconditionFailed otherwise.</summary>
    [Alias("Update")]
    Task<DeviceIdentity> Update(DeviceIdentityInput input, ETagCondition condition);

    /// <summary>Creates the device, or replaces it when it exists and <paramref name="condition"/> matches (the bulk API's create-or-update modes).</summary>
    [Alias("CreateOrUpdate")]
    Task<DeviceIdentity> CreateOrUpdate(DeviceIdentityInput input, ETagCondition condition);

    /// <summary>Removes the device when <paramref name="condition"/> matches; DeviceNotFound / PreconditionFailed otherwise.</summary>
    [Alias("Delete")]
    Task Delete(ETagCondition condition);

    /// <summary>
    /// Device side: an MQTT session opens. Checks registration, status and <see cref="DeviceSession.KeyFingerprint"/>;
    /// on <see cref="DeviceAccess.Granted"/> the device is Connected, its last activity is now, and a previous session
    /// is told to close (<see cref="SessionCloseReason.Replaced"/>). In memory only: no storage write.
    /// </summary>
    [Alias("Connect")]
    Task<DeviceAccess> Connect(DeviceSession session);

    /// <summary>
    /// Device side: an edge re-asserting an MQTT session it still holds (<c>Registry:MqttSessionRefreshSeconds</c>), for an
    /// activation made since the CONNECT (its silo died or stopped) that knows no session. Checks the device as
    /// <see cref="Connect"/> does; <see cref="DeviceAccess.Granted"/> when this activation holds the session, or held none
    /// and takes it (Connected again, no activity recorded); <see cref="DeviceAccess.SessionReplaced"/> when it holds another.
    /// </summary>
    [Alias("Reattach")]
    Task<DeviceAccess> Reattach(DeviceSession session);

    /// <summary>Device side: the MQTT session ended. Disconnected when it was the current one; otherwise nothing.</summary>
    [Alias("Disconnect")]
    Task Disconnect(Guid sessionId);

    /// <summary>
    /// Device side: messages (each a heartbeat) or a keep-alive ping arrived at an edge. Checks the device as
    /// <see cref="Connect"/> does and, for an MQTT session, that the session is the current one. In memory only.
    /// </summary>
    [Alias("Message")]
    Task<DeviceAccess> Message(DeviceMessage message);

    /// <summary>
    /// A heartbeat from a client app on the grain interface (trusted: no credential). The same in-memory update as a
    /// device message; <see cref="DeviceAccess.NotRegistered"/> or <see cref="DeviceAccess.Disabled"/> when it does not count.
    /// </summary>
    [Alias("Heartbeat")]
    Task<DeviceAccess> Heartbeat();
}

/// <summary>
/// Heartbeats for many devices in one call, for client apps and edges that hold many devices. Stateless: it runs on the
/// caller's silo and calls the device grains; one answer per id, in order.
/// </summary>
[Alias("registry.IHeartbeatBatchGrain")]
public interface IHeartbeatBatchGrain : IGrainWithIntegerKey
{
    /// <summary>One <see cref="IDeviceGrain.Heartbeat"/> per id (at most <see cref="RegistryLimits.MaxHeartbeatBatch"/>).</summary>
    [Alias("Heartbeat")]
    Task<DeviceAccess[]> Heartbeat(IReadOnlyList<string> deviceIds);
}
