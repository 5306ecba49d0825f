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
}
