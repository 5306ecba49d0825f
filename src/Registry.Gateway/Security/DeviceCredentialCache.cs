using Microsoft.Extensions.Options;
using Registry.Abstractions;

namespace Registry.Gateway.Security;

/// <summary>What device authentication needs of a device: whether it may connect, and its symmetric keys.</summary>
internal sealed class DeviceCredentials(DeviceStatus status, string? primaryKey, string? secondaryKey)
{
    public DeviceStatus Status => status;

    public string? PrimaryKey => primaryKey;

    public string? SecondaryKey => secondaryKey;

    /// <summary>Whether <paramref name="key"/> is still one of the device's keys (a key change ends cached tokens).</summary>
    public bool HasKey(string key) => key == primaryKey || key == secondaryKey;

    public override string ToString() => $"DeviceCredentials({status})"; // never the keys
}

/// <summary>
/// Device status and keys read from <see cref="IDeviceGrain"/>, reused for <see cref="SharedAccessOptions.DeviceCacheDuration"/>
/// so a busy device costs one grain call per period rather than one per request. A burst of simultaneous misses for
/// one device may each make the call (the last one is kept); a failed call is not kept.
/// </summary>
internal sealed class DeviceCredentialCache(IGrainFactory grains, IOptions<SharedAccessOptions> options, TimeProvider clock)
{
    private readonly SharedAccessOptions _options = options.Value;
    private readonly BoundedCache<Task<DeviceCredentials?>> _devices = new(options.Value.DeviceCacheSize);

    /// <summary>The device's credentials, or null when it is not registered.</summary>
    public Task<DeviceCredentials?> GetAsync(string deviceId)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (_devices.TryGet(deviceId, now, out var cached) && !cached.IsFaulted && !cached.IsCanceled)
        {
            return cached;
        }
        var fetch = FetchAsync(deviceId);
        _devices.Set(deviceId, fetch, now + (long)_options.DeviceCacheDuration.TotalMilliseconds, now);
        return fetch;
    }

    private async Task<DeviceCredentials?> FetchAsync(string deviceId)
    {
        var device = await grains.GetGrain<IDeviceGrain>(deviceId).Get();
        var keys = device?.Authentication.SymmetricKey;
        return device is null ? null : new DeviceCredentials(device.Status, keys?.PrimaryKey, keys?.SecondaryKey);
    }
}
