using Registry.Abstractions;

namespace Registry.Grains.Jobs;

/// <summary>
/// The order an import chunk applies its lines in: by storage group, then by index partition, then as they came. The
/// registry's durable stores group-commit the writes of one group (index entries, and with <c>Batched</c> device rows
/// the rows too) into one entity-group transaction; lines applied in input order touch every group at random, so with
/// many groups (1,024 for a million devices on Azurite) a transaction carried one or two rows. In this order the lines
/// in flight at once fall in a few groups and their writes meet. Lines of one device keep their order (they share a
/// partition, and the sort is stable).
/// </summary>
internal static class ImportOrder
{
    public static List<(long Offset, BulkOperation Operation)> ByStorageGroup(List<(long Offset, BulkOperation Operation)> lines, int partitions, int groups) =>
        lines
            .Select(line => (Line: line, Partition: DevicePartitioner.PartitionOf(line.Operation.Device.DeviceId, partitions)))
            .OrderBy(x => x.Partition % Math.Max(1, groups))
            .ThenBy(x => x.Partition)
            .Select(x => x.Line)
            .ToList();
}
