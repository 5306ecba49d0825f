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
}
