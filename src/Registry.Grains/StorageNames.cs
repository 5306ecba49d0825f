namespace Registry.Grains;

/// <summary>The named grain storages the grains persist into; the host decides what backs each name.</summary>
public static class StorageNames
{
    /// <summary>Device identities (one small record per device).</summary>
    public const string Registry = "registry";

    /// <summary>Index partitions (one record of thousands of ids per partition).</summary>
    public const string Index = "registry-index";
}

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
