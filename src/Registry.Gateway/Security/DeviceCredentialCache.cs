using System.Diagnostics.CodeAnalysis;
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
/// one device may each make the call (the last one is kept); a failed call is not kept. What the cache says to refuse
/// can be read again once it is <see cref="RefusalRecheck"/> old (<see cref="TryRefresh"/>): a device created, enabled or
/// re-keyed since is then served, while a flood of refused requests still costs at most one grain call a second.
/// </summary>
internal sealed class DeviceCredentialCache(IGrainFactory grains, IOptions<SharedAccessOptions> options, TimeProvider clock)
{
    /// <summary>How old a cached answer must be before a refusal built on it is checked with the device grain again.</summary>
    public static readonly TimeSpan RefusalRecheck = TimeSpan.FromSeconds(1);

    private readonly SharedAccessOptions _options = options.Value;
    private readonly BoundedCache<Cached> _devices = new(options.Value.DeviceCacheSize);

    /// <summary>The device's credentials, or null when it is not registered.</summary>
    public Task<DeviceCredentials?> GetAsync(string deviceId)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (_devices.TryGet(deviceId, now, out var cached) && !cached.Fetch.IsFaulted && !cached.Fetch.IsCanceled)
        {
            return cached.Fetch;
        }
        return Fetch(deviceId, now);
    }

    /// <summary>
    /// A fresh read of the device when the cached one is at least <see cref="RefusalRecheck"/> old (true), or nothing
    /// when it is younger (false): the caller refused on the cached answer and may decide again on the fresh one.
    /// </summary>
    public bool TryRefresh(string deviceId, [NotNullWhen(true)] out Task<DeviceCredentials?>? fresh)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (_devices.TryGet(deviceId, now, out var cached) && now - cached.FetchedAt < (long)RefusalRecheck.TotalMilliseconds)
        {
            fresh = null;
            return false;
        }
        fresh = Fetch(deviceId, now);
        return true;
    }

    private Task<DeviceCredentials?> Fetch(string deviceId, long now)
    {
        var fetch = FetchAsync(deviceId);
        _devices.Set(deviceId, new Cached(fetch, now), now + (long)_options.DeviceCacheDuration.TotalMilliseconds, now);
        return fetch;
    }

    private async Task<DeviceCredentials?> FetchAsync(string deviceId)
    {
        var device = await grains.GetGrain<IDeviceGrain>(deviceId).Get();
        var keys = device?.Authentication.SymmetricKey;
        return device is null ? null : new DeviceCredentials(device.Status, keys?.PrimaryKey, keys?.SecondaryKey);
    }

    private sealed record Cached(Task<DeviceCredentials?> Fetch, long FetchedAt);
}
