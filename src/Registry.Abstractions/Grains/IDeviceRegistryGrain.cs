namespace Registry.Abstractions;

/// <summary>
/// Registry-wide operations that fan out over device grains and index partitions: listing, cursor paging,
/// statistics and bulk writes. Stateless: any silo can run it, so the fan-out spreads over the cluster.
/// Use key 0.
/// </summary>
[Alias("registry.IDeviceRegistryGrain")]
public interface IDeviceRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Up to <paramref name="maxCount"/> devices in the registry's stable order (partition, then ordinal id),
    /// continuing after <paramref name="continuation"/> (null: from the start).
    /// </summary>
    [Alias("List")]
    Task<DevicePage> List(int maxCount, string? continuation);

    [Alias("GetStatistics")]
    Task<RegistryStatistics> GetStatistics();

    /// <summary>Applies each item independently; the result lists the ones that failed.</summary>
    [Alias("ApplyBulk")]
    Task<BulkOperationResult> ApplyBulk(IReadOnlyList<BulkOperation> operations);
}
