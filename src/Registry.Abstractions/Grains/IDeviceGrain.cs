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
}
