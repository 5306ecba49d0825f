using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Data.Tables;
using Registry.Abstractions;
using Registry.Grains;
using Registry.Grains.Events;

namespace Registry.Host;

/// <summary>
/// The durable <see cref="IEventOutbox"/>: an Azure table (<c>{prefix}Outbox</c>) holding one row per lifecycle
/// notification a silo raised and the event stream has not yet taken. PartitionKey = the silo (its address with its
/// generation, so a restarted silo's rows are not the dead incarnation's), RowKey = when it was stored (ticks, 19 digits)
/// and its <c>correlation-id</c>, so a silo's rows read in the order they were raised. A silo's rows share its
/// PartitionKey, so its writes group-commit: the rows added while an insert transaction is in flight go together as
/// the next one (up to 100, no timer: a lone row goes at once), and a row goes once the stream took its event, the
/// removals grouped the same way in the background. A row storage did not remove stays until its silo is gone, and is then sent again (the same
/// <c>correlation-id</c>: at least once). <see cref="OutboxSweeper"/> sends the rows of silos the cluster counts dead.
/// </summary>
public sealed partial class TableEventOutbox(TableClient table, string owner, StorageTimeBound bound, TimeProvider clock,
    ILogger<TableEventOutbox> logger) : IEventOutbox
{
    /// <summary>Azure's limit on the operations of one entity-group transaction.</summary>
    public const int MaxTransaction = 100;

    private const string EventColumn = "Event";
    private const string CheckColumn = "Check";

    private readonly GroupCommit<string> _removals = new(MaxTransaction);

    /// <summary>This silo's PartitionKey: its address and generation (<see cref="SiloAddress.ToParsableString"/>).</summary>
    public string Owner => owner;

    public TableClient Table => table;

    /// <summary>Rows removed so far, and the requests that took (fewer when removals shared transactions).</summary>
    public long Removed => Interlocked.Read(ref _removed);

    public long RemovalRequests => Interlocked.Read(ref _removalRequests);

    private long _removed;
    private long _removalRequests;

    private readonly GroupCommit<(TableEntity Row, TaskCompletionSource Stored)> _additions = new(MaxTransaction);
    private long _added;
    private long _additionRequests;

    /// <summary>Rows stored so far, and the requests that took (fewer when rows shared transactions).</summary>
    public long Added => Interlocked.Read(ref _added);

    public long AdditionRequests => Interlocked.Read(ref _additionRequests);

    public OutboxWrite Add(RegistryEvent registryEvent, string? check = null)
    {
        var row = new TableEntity(owner, RowKey(clock.GetUtcNow(), registryEvent))
        {
            [EventColumn] = JsonSerializer.Serialize(registryEvent, OutboxJson.Default.RegistryEvent),
        };
        if (check is not null)
        {
            row[CheckColumn] = check;
        }
        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _additions.Add((row, stored), Insert);
        return new OutboxWrite(new OutboxEntry(owner, row.RowKey), stored.Task);
    }

    /// <summary>One transaction of rows (a lone row as a plain insert); each caller learns the outcome.</summary>
    private async Task Insert((TableEntity Row, TaskCompletionSource Stored)[] batch)
    {
        try
        {
            Interlocked.Increment(ref _additionRequests);
            if (batch.Length == 1)
            {
                await bound.Request(() => table.AddEntityAsync(batch[0].Row));
            }
            else
            {
                await bound.Request(() => table.SubmitTransactionAsync(batch.Select(b => new TableTransactionAction(TableTransactionActionType.Add, b.Row))));
            }
        }
        catch (Exception e)
        {
            // Each caller logs its own (PendingNotifications: 2203) and keeps its event in memory.
            foreach (var (_, stored) in batch)
            {
                stored.TrySetException(e);
            }
            return;
        }
        Interlocked.Add(ref _added, batch.Length);
        foreach (var (_, stored) in batch)
        {
            stored.TrySetResult();
        }
    }

    public void Remove(OutboxEntry entry) => _removals.Add(entry.RowKey, RemoveBatch);

    /// <summary>Removals not yet sent or in flight; for tests and the stop.</summary>
    public Task Removing => _removals.Draining;

    private async Task RemoveBatch(string[] batch)
    {
        try
        {
            await Delete(owner, batch);
        }
        catch (Exception e)
        {
            // Left in storage, sent again once this silo is gone: a duplicate with the same correlation-id, not a loss.
            LogNotRemoved(logger, e, batch.Length);
        }
    }

    /// <summary>Removes the rows <paramref name="rowKeys"/> of <paramref name="partition"/>, one transaction per 100; a row already gone is no failure.</summary>
    public async Task Delete(string partition, IReadOnlyList<string> rowKeys)
    {
        foreach (var chunk in rowKeys.Chunk(MaxTransaction))
        {
            if (chunk.Length == 1)
            {
                await DeleteOne(partition, chunk[0]);
                continue;
            }
            try
            {
                Interlocked.Increment(ref _removalRequests);
                await bound.Request(() => table.SubmitTransactionAsync(
                    chunk.Select(k => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partition, k), ETag.All))));
            }
            catch (TableTransactionFailedException)
            {
                // A row of the chunk is gone already (its silo's removal landed after a timeout, or another sweeper's): one by one.
                foreach (var rowKey in chunk)
                {
                    await DeleteOne(partition, rowKey);
                }
                continue;
            }
            Interlocked.Add(ref _removed, chunk.Length);
        }
    }

    private async Task DeleteOne(string partition, string rowKey)
    {
        Interlocked.Increment(ref _removalRequests);
        try
        {
            await bound.Request(() => table.DeleteEntityAsync(partition, rowKey, ETag.All));
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
        }
        Interlocked.Increment(ref _removed);
    }

    /// <summary>Every row of the outbox, grouped by silo, each silo's in the order they were stored.</summary>
    public async Task<IReadOnlyList<OutboxSilo>> Read(CancellationToken cancellationToken)
    {
        var rows = await bound.RunLong(ReadAll(cancellationToken));
        return [.. rows.GroupBy(r => r.PartitionKey, StringComparer.Ordinal)
            .Select(g => new OutboxSilo(g.Key, [.. g.OrderBy(r => r.RowKey, StringComparer.Ordinal)]))
            .OrderBy(s => s.Owner, StringComparer.Ordinal)];
    }

    private async Task<List<OutboxRow>> ReadAll(CancellationToken cancellationToken)
    {
        var rows = new List<OutboxRow>();
        await foreach (var row in table.QueryAsync<TableEntity>(maxPerPage: 1000, cancellationToken: cancellationToken))
        {
            rows.Add(new OutboxRow(row.PartitionKey, row.RowKey, StoredAt(row.RowKey), row.GetString(EventColumn)) { Check = row.GetString(CheckColumn) });
        }
        return rows;
    }

    /// <summary>The event a row holds; null when it is not one (a row written by hand, or damaged).</summary>
    public static RegistryEvent? Parse(OutboxRow row)
    {
        try
        {
            return row.Event is null ? null : JsonSerializer.Deserialize(row.Event, OutboxJson.Default.RegistryEvent);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>When stored (ticks, fixed width, so rows sort by it) and the event's correlation-id (unique).</summary>
    public static string RowKey(DateTimeOffset storedAt, RegistryEvent registryEvent) =>
        storedAt.UtcTicks.ToString("D19", CultureInfo.InvariantCulture) + "-"
        + (registryEvent.SystemProperties.TryGetValue("correlation-id", out var id) ? id : Guid.NewGuid().ToString("N"));

    private static DateTimeOffset? StoredAt(string rowKey) =>
        rowKey.Length >= 19 && long.TryParse(rowKey.AsSpan(0, 19), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            && ticks <= DateTimeOffset.MaxValue.UtcTicks
            ? new DateTimeOffset(ticks, TimeSpan.Zero)
            : null;

    [LoggerMessage(EventId = 2205, Level = LogLevel.Warning, Message = "{Count} outbox rows of notifications the event stream took could not be removed; they will be sent again once this silo is gone")]
    private static partial void LogNotRemoved(ILogger logger, Exception exception, int count);
}

/// <summary>An outbox row: its silo, its key, when it was stored (null if its key says not), and the event's JSON.</summary>
public sealed record OutboxRow(string PartitionKey, string RowKey, DateTimeOffset? StoredAt, string? Event)
{
    /// <summary>For a row to verify (<see cref="OutboxChecks"/>): what storage must show before its event is sent.</summary>
    public string? Check { get; init; }
}

/// <summary>The rows one silo left, in the order they were stored.</summary>
public sealed record OutboxSilo(string Owner, IReadOnlyList<OutboxRow> Rows);

[JsonSerializable(typeof(RegistryEvent))]
internal sealed partial class OutboxJson : JsonSerializerContext;
