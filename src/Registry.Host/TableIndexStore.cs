using System.Globalization;
using Azure;
using Azure.Data.Tables;
using Registry.Abstractions;
using Registry.Grains.Index;
using Registry.Grains.Storage;

namespace Registry.Host;

/// <summary>
/// The durable <see cref="IIndexStore"/>: one Azure Table entity per index entry, PartitionKey = the partition number
/// (fixed width), RowKey = the device id escaped as in <see cref="KeyEscapingGrainStorage"/>, and an <c>Enabled</c>
/// column. A write is entity-group transactions of at most <see cref="MaxTransaction"/> operations (one PartitionKey
/// each), so it costs the change; a load is one range query over the PartitionKey. docs/storage.md §6.
/// </summary>
public sealed class TableIndexStore(TableClient table) : IIndexStore
{
    /// <summary>Azure's limit on the operations of one entity-group transaction.</summary>
    public const int MaxTransaction = 100;

    private const string EnabledColumn = "Enabled";
    private static readonly string[] Columns = ["RowKey", EnabledColumn];

    public static string PartitionKey(int partition) => partition.ToString("D6", CultureInfo.InvariantCulture);

    public async Task<IReadOnlyList<IndexEntry>> Load(int partition)
    {
        var key = PartitionKey(partition);
        var entries = new List<IndexEntry>();
        await foreach (var entity in table.QueryAsync<TableEntity>(e => e.PartitionKey == key, select: Columns))
        {
            entries.Add(new IndexEntry(KeyEscapingGrainStorage.UnescapeKey(entity.RowKey), entity.GetBoolean(EnabledColumn) ?? false));
        }
        return entries;
    }

    public Task Apply(int partition, IReadOnlyList<IndexChange> changes)
    {
        var key = PartitionKey(partition);
        // Transactions run side by side: each is atomic, and a failure of any fails the write, which the index grain retries whole.
        return Task.WhenAll(changes.Chunk(MaxTransaction).Select(chunk => Commit(key, chunk)));
    }

    private async Task Commit(string partitionKey, IndexChange[] changes)
    {
        if (changes.Length == 1)
        {
            // Most writes of a lightly loaded partition carry one change: a plain request is cheaper than a batch of one.
            await One(partitionKey, changes[0]);
            return;
        }
        var actions = changes.Select(change => change.Enabled is { } enabled
            ? new TableTransactionAction(TableTransactionActionType.UpsertReplace, Entity(partitionKey, change.DeviceId, enabled))
            : new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partitionKey, RowKey(change.DeviceId)), ETag.All));
        try
        {
            await table.SubmitTransactionAsync(actions);
        }
        catch (TableTransactionFailedException e) when (e.Status == 404)
        {
            // A transaction's delete of an entity that is not there fails the whole transaction (a removal retried after it
            // landed, or of an entry whose add never did). One by one, a delete of nothing succeeds.
            await Task.WhenAll(changes.Select(change => One(partitionKey, change)));
        }
    }

    /// <summary>One change as a single request; a delete of an entity that is not there succeeds.</summary>
    private Task One(string partitionKey, IndexChange change) => change.Enabled is { } enabled
        ? table.UpsertEntityAsync(Entity(partitionKey, change.DeviceId, enabled), TableUpdateMode.Replace)
        : table.DeleteEntityAsync(partitionKey, RowKey(change.DeviceId), ETag.All);

    private static TableEntity Entity(string partitionKey, string deviceId, bool enabled) =>
        new(partitionKey, RowKey(deviceId)) { [EnabledColumn] = enabled };

    private static string RowKey(string deviceId) => KeyEscapingGrainStorage.EscapeKey(deviceId);
}
