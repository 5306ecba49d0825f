using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Registry.Abstractions;
using Registry.Grains.Registry;

namespace Registry.Grains.Heartbeats;

/// <summary>
/// Lists outages across the monitor partitions in the registry's stable order (partition, then ordinal id), with the
/// device list's cursor format, so a page never repeats or skips a device that stays in its outage.
/// </summary>
[StatelessWorker]
[Reentrant] // no state of its own: a call waiting for a device must not hold the silo's other calls (HeartbeatBatchGrain)
public sealed class HeartbeatOutagesGrain(IOptions<RegistryIndexOptions> indexOptions) : Grain, IHeartbeatOutagesGrain
{
    public async Task<HeartbeatOutagePage> List(int maxCount, string? continuation)
    {
        var partitions = indexOptions.Value.Partitions;
        var max = RegistryLimits.PageSize(maxCount);
        var cursor = ContinuationToken.Decode(continuation, partitions);
        var outages = new List<HeartbeatOutage>();
        var partition = cursor.Partition;
        var after = cursor.AfterDeviceId;
        while (partition < partitions && outages.Count < max)
        {
            var (page, hasMore) = await GrainFactory.GetGrain<IHeartbeatMonitorGrain>(partition).Outages(after, max - outages.Count);
            outages.AddRange(page);
            if (hasMore)
            {
                after = page[^1].DeviceId;
                break;
            }
            partition++;
            after = null;
        }
        if (after is null)
        {
            // The page ended with a partition: a cursor only if a later partition has an outage, so a page that takes the
            // last outages is the last page instead of one before an empty one.
            partition = await PartitionLookAhead.FirstHolding(partition, partitions, async p =>
                (await GrainFactory.GetGrain<IHeartbeatMonitorGrain>(p).Outages(null, 0)).HasMore);
        }
        var next = partition < partitions ? new ContinuationToken(partition, after).Encode(partitions) : null;
        return new HeartbeatOutagePage(outages, next);
    }
}
