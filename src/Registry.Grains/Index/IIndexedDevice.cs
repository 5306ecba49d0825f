using Registry.Abstractions;

namespace Registry.Grains.Index;

/// <summary>
/// What readers of the index ask of a device grain: the grains' own side door, kept off the public
/// <see cref="IDeviceGrain"/> contract so that contract grows only with what callers of the registry need.
/// <see cref="IndexMembership"/> explains the protocol this belongs to.
/// </summary>
[Alias("registry.IIndexedDevice")]
public interface IIndexedDevice : IGrainWithStringKey
{
    /// <summary>
    /// Returns the device, and repairs the index entry that led here when it is a phantom (no device) or carries
    /// a stale status. Runs inside the device's single-threaded turn, so it cannot race a create or delete of the
    /// same device. An activation the read started goes when idle (unless a repair is pending), so a listing does not
    /// leave the devices it read in memory; one in use before the read stays.
    /// </summary>
    [Alias("ReadForIndex")]
    Task<DeviceIdentity?> ReadForIndex(bool indexedAsEnabled);

    /// <summary>
    /// <see cref="ReadForIndex"/> for a partition's verification pass, which reaches every device after a restart: the
    /// activation then goes when idle (unless a repair is pending, or the activation was in use before the pass reached it:
    /// an open session or a monitored heartbeat lives only in memory), so the pass does not leave the whole registry in memory.
    /// </summary>
    [Alias("Verify")]
    Task Verify(bool indexedAsEnabled);

    /// <summary>
    /// Writes the device's index entry as its state says (present with its status, or absent), whatever the entry holds
    /// now: for a writer that cannot know whether an earlier attempt of its own left the entry behind (an import chunk
    /// applied again after a failover, whose first attempt's delete or index write died with its silo).
    /// </summary>
    [Alias("Reconcile")]
    Task Reconcile();
}
