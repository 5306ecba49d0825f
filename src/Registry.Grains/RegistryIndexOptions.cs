namespace Registry.Grains;

/// <summary>How the device index is partitioned. Every silo must use the same count for the life of the registry.</summary>
public sealed class RegistryIndexOptions
{
    /// <summary>
    /// Number of index partitions. A write costs its change whatever a partition's size, so 256 serves 10M devices
    /// (~40k ids each); a partition's size only costs its load and verification after it activates.
    /// </summary>
    public int Partitions { get; set; } = 256;

    /// <summary>How often a device grain retries bringing its index entry in line after the index could not be written.</summary>
    public TimeSpan RepairInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a device write that failed may still land: a write whose answer timed out goes on in storage's client
    /// until its tries end. Until then its partition keeps the id as unsettled, and once it has passed the device brings
    /// its entry in line with what storage holds (IndexMembership). The host sets max(1 min, 4 × its storage timeout).
    /// </summary>
    public TimeSpan WriteSettleTime { get; set; } = TimeSpan.FromMinutes(1);
}
