using Registry.Abstractions;

namespace Registry.Grains.Devices;

/// <summary>
/// Device storage whose rows are grouped by index partition, so an export reads a partition's devices with one range
/// query (pages of rows) instead of one read per device; at a million devices that is the difference between minutes
/// of round trips and a scan. Storages without that layout do not offer it, and the export reads through the index.
/// </summary>
public interface IDevicePartitionScan
{
    /// <summary>The acknowledged identity of every device stored in <paramref name="partition"/>, in storage order.</summary>
    IAsyncEnumerable<DeviceIdentity> Scan(int partition, CancellationToken cancellation = default);

    /// <summary>
    /// The partitions (of <paramref name="partitions"/>) whose rows one range query reads together: an export scans each
    /// group once with <see cref="ScanGroup"/> instead of reading the group's rows again for every partition of it.
    /// Every partition is in exactly one group.
    /// </summary>
    IReadOnlyList<IReadOnlyList<int>> Groups(int partitions);

    /// <summary>
    /// Every device of the partitions of <paramref name="group"/> (all of one of <see cref="Groups"/>, or some of them) by
    /// one range query, each with its partition, in storage order (the partitions' devices interleaved).
    /// </summary>
    IAsyncEnumerable<(int Partition, DeviceIdentity Device)> ScanGroup(IReadOnlyList<int> group, CancellationToken cancellation = default);

    /// <summary>
    /// The stored identities of <paramref name="deviceIds"/>, all of <paramref name="partition"/>, by one range query over
    /// their storage group's rows from the least of their keys to the greatest (a listing's page of one partition: rows of
    /// the group's other partitions in that range are read and skipped). An id without a row in that range is absent from
    /// the answer: the caller reads it another way.
    /// </summary>
    Task<IReadOnlyDictionary<string, DeviceIdentity>> ReadMany(int partition, IReadOnlyCollection<string> deviceIds, CancellationToken cancellation = default);
}
