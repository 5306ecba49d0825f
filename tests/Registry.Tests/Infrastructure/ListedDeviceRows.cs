using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Registry.Abstractions;
using Registry.Grains.Devices;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// A device-row scan that answers only the rows a test lists in <see cref="Rows"/> (one group per partition), so a
/// partition's verification pass meets a stored row the test chose: the scan of batched rows (DeviceRowStorage) without
/// Azurite. Whatever it does not list is asked of its device, as with no scan; a listing's <see cref="ReadMany"/> finds
/// nothing and reads through the grains.
/// </summary>
public sealed class ListedDeviceRows(int partitions) : IDevicePartitionScan
{
    /// <summary>The listed rows by device id, with their partition; shared by the in-process silos of a fixture.</summary>
    public static readonly ConcurrentDictionary<string, DeviceIdentity> Rows = new(StringComparer.Ordinal);

    public async IAsyncEnumerable<DeviceIdentity> Scan(int partition, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        await foreach (var (_, device) in ScanGroup([partition], cancellation))
        {
            yield return device;
        }
    }

    public IReadOnlyList<IReadOnlyList<int>> Groups(int count) => [.. Enumerable.Range(0, count).Select(p => (IReadOnlyList<int>)[p])];

    public async IAsyncEnumerable<(int Partition, DeviceIdentity Device)> ScanGroup(IReadOnlyList<int> group, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        await Task.Yield();
        foreach (var device in Rows.Values)
        {
            var partition = DevicePartitioner.PartitionOf(device.DeviceId, partitions);
            if (group.Contains(partition))
            {
                yield return (partition, device);
            }
        }
    }

    public Task<IReadOnlyDictionary<string, DeviceIdentity>> ReadMany(int partition, IReadOnlyCollection<string> deviceIds, CancellationToken cancellation = default) =>
        Task.FromResult<IReadOnlyDictionary<string, DeviceIdentity>>(new Dictionary<string, DeviceIdentity>(StringComparer.Ordinal));
}
