using Azure.Data.Tables;
using Registry.Grains.Devices;
using Registry.Grains.Storage;

namespace Registry.Host;

/// <summary>
/// The durable <see cref="IPresenceStore"/>: one Azure Table entity per device that was ever active, PartitionKey = its
/// index partition in six digits (<see cref="TableIndexStore.PartitionKey"/>), RowKey = the escaped device id. A write of the
/// <see cref="PresenceWriter"/> is one entity-group transaction of up to 100 upserts, so 1M devices beating every
/// minute cost ~10k requests a minute, not 1M. Kept apart from the device's own record so a heartbeat never touches the
/// identity or its ETag.
/// </summary>
public sealed class TablePresenceStore(TableClient table) : IPresenceStore
{
    private const string GenerationColumn = "GenerationId";
    private const string ActivityColumn = "LastActivityTime";
    private const string HeartbeatColumn = "LastHeartbeatTime";
    private const string ConnectionColumn = "ConnectionStateUpdatedTime";

    public async Task Write(int partition, IReadOnlyList<PresenceRecord> records)
    {
        var key = TableIndexStore.PartitionKey(partition);
        if (records.Count == 1)
        {
            await table.UpsertEntityAsync(Entity(key, records[0]), TableUpdateMode.Replace);
            return;
        }
        await table.SubmitTransactionAsync(records.Select(r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, Entity(key, r))));
    }

    public async Task<PresenceRecord?> Read(int partition, string deviceId)
    {
        var entity = await table.GetEntityIfExistsAsync<TableEntity>(TableIndexStore.PartitionKey(partition), KeyEscapingGrainStorage.EscapeKey(deviceId));
        if (!entity.HasValue || entity.Value is not { } e)
        {
            return null;
        }
        return Record(deviceId, e);
    }

    /// <summary>One range query over the partition's rows, from the least of the ids' RowKeys to the greatest.</summary>
    public async Task<IReadOnlyDictionary<string, PresenceRecord>> ReadMany(int partition, IReadOnlyCollection<string> deviceIds)
    {
        var found = new Dictionary<string, PresenceRecord>(deviceIds.Count, StringComparer.Ordinal);
        if (deviceIds.Count == 0)
        {
            return found;
        }
        var (first, last) = KeyEscapingGrainStorage.EscapedRange(deviceIds);
        var wanted = deviceIds.ToHashSet(StringComparer.Ordinal);
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {TableIndexStore.PartitionKey(partition)} and RowKey ge {first} and RowKey le {last}");
        await foreach (var e in table.QueryAsync<TableEntity>(filter))
        {
            var deviceId = KeyEscapingGrainStorage.UnescapeKey(e.RowKey);
            if (wanted.Contains(deviceId))
            {
                found[deviceId] = Record(deviceId, e);
            }
        }
        return found;
    }

    private static PresenceRecord Record(string deviceId, TableEntity e) =>
        new(deviceId, e.GetString(GenerationColumn) ?? "",
            e.GetDateTimeOffset(ActivityColumn)?.UtcDateTime ?? default, e.GetDateTimeOffset(HeartbeatColumn)?.UtcDateTime,
            e.GetDateTimeOffset(ConnectionColumn)?.UtcDateTime ?? default); // absent in rows written before the column

    private static TableEntity Entity(string partitionKey, PresenceRecord record)
    {
        var entity = new TableEntity(partitionKey, KeyEscapingGrainStorage.EscapeKey(record.DeviceId))
        {
            [GenerationColumn] = record.GenerationId,
            [ActivityColumn] = new DateTimeOffset(DateTime.SpecifyKind(record.LastActivityTime, DateTimeKind.Utc)),
        };
        if (record.LastHeartbeatTime is { } heartbeat)
        {
            entity[HeartbeatColumn] = new DateTimeOffset(DateTime.SpecifyKind(heartbeat, DateTimeKind.Utc));
        }
        if (record.ConnectionStateUpdatedTime != default)
        {
            entity[ConnectionColumn] = new DateTimeOffset(DateTime.SpecifyKind(record.ConnectionStateUpdatedTime, DateTimeKind.Utc));
        }
        return entity;
    }
}

/// <summary>
/// The durable presence store bounded like the other stores (<see cref="StorageTimeBound"/>): each read (a device grain
/// activating) and each write takes one of the silo's request slots. Unbounded, a failover's tens of thousands of
/// reactivations each opened a connection to storage for its presence, until the machine ran out of file handles
/// (the 100k alert soak with a silo killed, loadtests/README.md).
/// </summary>
public sealed class BoundedPresenceStore(IPresenceStore inner, StorageTimeBound bound) : IPresenceStore
{
    public Task Write(int partition, IReadOnlyList<PresenceRecord> records) => bound.Request(() => inner.Write(partition, records));

    public Task<PresenceRecord?> Read(int partition, string deviceId) => bound.Request(() => inner.Read(partition, deviceId));

    public Task<IReadOnlyDictionary<string, PresenceRecord>> ReadMany(int partition, IReadOnlyCollection<string> deviceIds) =>
        bound.Request(() => inner.ReadMany(partition, deviceIds));
}

