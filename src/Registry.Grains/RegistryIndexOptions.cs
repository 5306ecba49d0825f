namespace Registry.Grains;

/// <summary>How the device index is partitioned. Every silo must use the same count for the life of the registry.</summary>
public sealed class RegistryIndexOptions
{
    /// <summary>
    /// Number of index partitions. A partition's state is rewritten whole on each change, so keep it at a
    /// few thousand ids: target devices / 4,000, rounded up. 256 serves about a million devices.
    /// </summary>
    public int Partitions { get; set; } = 256;

    /// <summary>How often a device grain retries bringing its index entry in line after the index could not be written.</summary>
    public TimeSpan RepairInterval { get; set; } = TimeSpan.FromSeconds(10);
}
