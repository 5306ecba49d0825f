using Azure;
using Azure.Data.Tables;
using Registry.Abstractions;
using Registry.Grains.Heartbeats;
using Registry.Grains.Storage;

namespace Registry.Host;

/// <summary>
/// The durable <see cref="IHeartbeatStore"/>: one Azure Table entity per watched device, keyed by index partition
/// (<see cref="TableIndexStore.PartitionKey"/>: the partition number, RowKey = the escaped device id), with the policy
/// and the outage start as columns. A write is the change only, in entity-group transactions of at most 100; a
/// partition's load is one range query. Writes happen when monitoring starts or stops and twice per outage, never per
/// heartbeat or per deadline. docs/storage.md.
/// </summary>
public sealed class TableHeartbeatStore(TableClient table, TimeSpan? roundTrip = null, TimeProvider? time = null) : IHeartbeatStore
{
    private const string IntervalColumn = "IntervalSeconds";
    private const string GraceColumn = "GraceSeconds";
    private const string OutageColumn = "OutageSince";
    private static readonly string[] Columns = ["RowKey", IntervalColumn, GraceColumn, OutageColumn];

    /// <summary>The partition's watched devices by one range query, each page within <c>roundTrip</c> (<see cref="RoundTripBound"/>).</summary>
    public async Task<IReadOnlyList<MonitoredDevice>> Load(int partition)
    {
        var key = TableIndexStore.PartitionKey(partition);
        var devices = new List<MonitoredDevice>();
        using var trips = new RoundTripBound(roundTrip, time);
        try
        {
            await foreach (var page in table.QueryAsync<TableEntity>(e => e.PartitionKey == key, select: Columns, cancellationToken: trips.Token).AsPages())
            {
                trips.Answered();
                foreach (var entity in page.Values)
                {
                    var policy = new HeartbeatPolicy(entity.GetInt32(IntervalColumn) ?? 0, entity.GetInt32(GraceColumn) ?? 0);
                    // A record no policy can come from (edited by hand) is not watched rather than failing the partition.
                    if (policy.Problem() is null)
                    {
                        devices.Add(new MonitoredDevice(KeyEscapingGrainStorage.UnescapeKey(entity.RowKey), policy,
                            entity.GetDateTimeOffset(OutageColumn)?.UtcDateTime));
                    }
                }
            }
            return devices;
        }
        catch (Exception e) when (trips.Ended(e))
        {
            throw trips.Expired($"heartbeat monitor partition {partition}'s load", e);
        }
    }

    public Task Apply(int partition, IReadOnlyList<MonitorChange> changes)
    {
        var key = TableIndexStore.PartitionKey(partition);
        return Task.WhenAll(changes.Chunk(TableIndexStore.MaxTransaction).Select(chunk => Commit(key, chunk)));
    }

    private async Task Commit(string partitionKey, MonitorChange[] changes)
    {
        if (changes.Length == 1)
        {
            await One(partitionKey, changes[0]);
            return;
        }
        var actions = changes.Select(change => change.Device is { } device
            ? new TableTransactionAction(TableTransactionActionType.UpsertReplace, Entity(partitionKey, device))
            : new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partitionKey, RowKey(change.DeviceId)), ETag.All));
        try
        {
            await table.SubmitTransactionAsync(actions);
        }
        catch (TableTransactionFailedException e) when (e.Status == 404)
        {
            // A delete of an entity that is not there fails the whole transaction; one by one it succeeds.
            await Task.WhenAll(changes.Select(change => One(partitionKey, change)));
        }
    }

    private Task One(string partitionKey, MonitorChange change) => change.Device is { } device
        ? table.UpsertEntityAsync(Entity(partitionKey, device), TableUpdateMode.Replace)
        : table.DeleteEntityAsync(partitionKey, RowKey(change.DeviceId), ETag.All);

    private static TableEntity Entity(string partitionKey, MonitoredDevice device) => new(partitionKey, RowKey(device.DeviceId))
    {
        [IntervalColumn] = device.Policy.IntervalSeconds,
        [GraceColumn] = device.Policy.GraceSeconds,
        [OutageColumn] = device.OutageSince is { } since ? new DateTimeOffset(DateTime.SpecifyKind(since, DateTimeKind.Utc)) : null,
    };

    private static string RowKey(string deviceId) => KeyEscapingGrainStorage.EscapeKey(deviceId);
}

/// <summary>Wraps the durable heartbeat store like <see cref="BoundedIndexStore"/>.</summary>
public sealed class BoundedHeartbeatStore(IHeartbeatStore inner, StorageTimeBound bound) : IHeartbeatStore
{
    public Task<IReadOnlyList<MonitoredDevice>> Load(int partition) => bound.Load(() => inner.Load(partition), BackgroundLoads.Requested);

    public Task Apply(int partition, IReadOnlyList<MonitorChange> changes) => bound.Request(() => inner.Apply(partition, changes));
}
