using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Concurrency;
using Registry.Grains.Jobs;

namespace Registry.Grains.Devices;

/// <summary>
/// The devices with an activation on this silo, for a listing that reads idle devices from storage in range queries
/// (<see cref="IDevicePartitionScan.ReadMany"/>) instead of activating each one: only an active device may know more than
/// storage does (its activity since the last presence write, its session), so only the active ones are read through their
/// grains. Kept only where device rows can be read that way; elsewhere every listing reads through the grains and this
/// keeps nothing. Memory: one dictionary entry per active device (~80 B beside the activation's kilobytes).
/// </summary>
public sealed class ActiveDevices(IServiceProvider services)
{
    private readonly ConcurrentDictionary<string, byte>? _ids =
        services.GetService<IDevicePartitionScan>() is null ? null : new(StringComparer.Ordinal);

    /// <summary>Whether this silo keeps the set (device rows can be read by range).</summary>
    public bool Kept => _ids is not null;

    public int Count => _ids?.Count ?? 0;

    internal void Activated(string deviceId) => _ids?.TryAdd(deviceId, 0);

    internal void Deactivated(string deviceId) => _ids?.TryRemove(deviceId, out _);

    /// <summary>Those of <paramref name="deviceIds"/> active here.</summary>
    public string[] Among(IEnumerable<string> deviceIds) =>
        _ids is { } ids ? deviceIds.Where(ids.ContainsKey).ToArray() : [];
}

/// <summary>
/// A silo's <see cref="ActiveDevices"/>, asked by a listing on another silo; keyed by the silo's address
/// (<see cref="SiloAddress.ToParsableString"/>) and placed on it.
/// </summary>
[Alias("registry.IActiveDevicesGrain")]
public interface IActiveDevicesGrain : IGrainWithStringKey
{
    /// <summary>Those of <paramref name="deviceIds"/> with an activation on this grain's silo.</summary>
    [Alias("Among")]
    Task<string[]> Among(string[] deviceIds);
}

[Reentrant, OnNamedSilo]
public sealed class ActiveDevicesGrain(ActiveDevices active) : Grain, IActiveDevicesGrain
{
    public Task<string[]> Among(string[] deviceIds) => Task.FromResult(active.Among(deviceIds));
}
