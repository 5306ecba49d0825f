using Registry.Abstractions;

namespace Registry.Grains.Index;

/// <summary>What an index partition persists: its entries in ordinal id order.</summary>
[GenerateSerializer, Alias("registry.DeviceIndexState")]
public sealed class DeviceIndexState
{
    [Id(0)] public List<IndexEntry> Entries { get; set; } = [];
}
