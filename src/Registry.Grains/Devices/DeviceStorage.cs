using Orleans.Storage;
using Registry.Abstractions;

namespace Registry.Grains.Devices;

/// <summary>
/// A device grain's state, read and written through the registry's grain storage explicitly rather than by
/// <c>[PersistentState]</c>, which reads on every activation: a device its index partition proves absent (a create)
/// skips that read, so a create costs the index write and the device write, not a read before them. The storage
/// keys are the ones <c>[PersistentState("device", …)]</c> used (docs/storage.md §3).
/// </summary>
internal sealed class DeviceStorage(IGrainStorage storage, GrainId grainId)
{
    private const string StateName = "device";

    private readonly GrainState<DeviceState> _state = new(new DeviceState());

    /// <summary>False until the state was read, or proved absent.</summary>
    public bool Loaded { get; private set; }

    public DeviceState State => _state.State ??= new DeviceState();

    public async Task ReadStateAsync()
    {
        await storage.ReadStateAsync(StateName, grainId, _state);
        Loaded = true;
    }

    /// <summary>
    /// The index says no device is stored under this id: start empty without reading. The first write is then an
    /// insert (no storage ETag), which storage refuses if a record exists after all, and the failed write re-reads.
    /// </summary>
    public void AssumeAbsent() => Loaded = true;

    /// <summary>
    /// The acknowledged identity stored for <paramref name="grainId"/>, read without activating its grain: an export reads
    /// every device, and a million activations just to read them would cost gigabytes.
    /// </summary>
    public static async Task<DeviceIdentity?> ReadIdentityAsync(IGrainStorage storage, GrainId grainId)
    {
        var state = new GrainState<DeviceState>(new DeviceState());
        await storage.ReadStateAsync(StateName, grainId, state);
        return state.State?.Identity;
    }

    public Task WriteStateAsync() => storage.WriteStateAsync(StateName, grainId, _state);

    public Task ClearStateAsync() => storage.ClearStateAsync(StateName, grainId, _state);
}

/// <summary>A device's acknowledged identity as storage holds it, read without its grain (<see cref="DeviceStorage.ReadIdentityAsync"/>).</summary>
public static class StoredDevices
{
    public static Task<DeviceIdentity?> ReadAsync(IGrainStorage storage, GrainId grainId) => DeviceStorage.ReadIdentityAsync(storage, grainId);
}
