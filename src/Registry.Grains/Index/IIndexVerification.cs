namespace Registry.Grains.Index;

/// <summary>
/// The verification pass an index partition runs when it activates (see <see cref="DeviceIndexGrain"/>), as a signal
/// operators' tooling and tests can wait on instead of polling statistics. Not part of the public registry contract.
/// </summary>
[Alias("registry.IIndexVerification")]
public interface IIndexVerification : IGrainWithIntegerKey
{
    /// <summary>Completes when this activation's pass over the entries it loaded from storage has ended.</summary>
    [Alias("WhenVerified")]
    Task WhenVerified();

    /// <summary>
    /// Asks the partition to check <paramref name="deviceId"/>'s entry against its device until the check succeeds, every
    /// <c>RegistryIndexOptions.RepairInterval</c>: for an entry whose device could not bring it in line itself (its write
    /// and the read-back after it both failed, so it dropped its activation).
    /// </summary>
    [Alias("CheckLater")]
    Task CheckLater(string deviceId);

    /// <summary>
    /// Tells the partition that a write of <paramref name="deviceId"/> failed and may still land (a write whose answer timed
    /// out goes on in storage): until <c>RegistryIndexOptions.WriteSettleTime</c> has passed the partition answers that it
    /// may hold the id (so the device reads storage instead of taking itself for absent), and then has the device bring
    /// its entry in line with what storage holds, until that succeeds. A write that landed after the device's read-back
    /// is so listed and counted; one that never landed leaves nothing. The partition keeps this in its storage whenever the
    /// id has no entry (in the entry's place, <see cref="IndexChange.SettleBy"/>): a partition loaded again before the
    /// time, after a restart, still holds the id as unsettled. Completes once that is stored.
    /// </summary>
    [Alias("SettleLater")]
    Task SettleLater(string deviceId);
}
