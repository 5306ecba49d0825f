using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace Registry.Grains.Index;

/// <summary>
/// The settings the registry's storage was written with, kept beside the index partitions: the partition count, and
/// what decides where device rows are (the ServiceId keys them, DeviceStorage picks Batched, Table or Blob), and the
/// storage groups durable entries and rows are keyed by. Null: written before the field existed.
/// </summary>
[GenerateSerializer, Alias("registry.IndexLayout")]
public sealed class IndexLayout
{
    [Id(0)] public int Partitions { get; set; }

    [Id(1)] public string? ServiceId { get; set; }

    [Id(2)] public string? DeviceStorage { get; set; }

    [Id(3)] public int? StorageGroups { get; set; }

    /// <summary>The tables each grouped kind of entity is spread over; null: recorded before the setting, one table.</summary>
    [Id(4)] public int? StorageTables { get; set; }

    /// <summary>
    /// <c>Registry:StoragePrefix</c> as spelt at the first start: blob containers and queues keep its hyphens where tables
    /// drop them, and Azurite tells table names' case apart (a restart spelling it in other letters crashed on a table
    /// "not found"). Null: recorded before the field (or memory storage).
    /// </summary>
    [Id(5)] public string? StoragePrefix { get; set; }

    /// <summary>The storage groups of durable storage recorded before <see cref="StorageGroups"/> was: the count was fixed at 32.</summary>
    public const int StorageGroupsBeforeTheSetting = 32;

    /// <summary>The tables of durable storage recorded before <see cref="StorageTables"/> was: one of each kind.</summary>
    public const int StorageTablesBeforeTheSetting = 1;
}

/// <summary>Why a silo refused to start: a setting the storage was written with differs from its configuration.</summary>
public class IndexLayoutMismatchException(string message) : Exception(message);

/// <summary>
/// Why a silo refused to start: its ServiceId, DeviceStorage, StorageGroups or StorageTables is not the one the storage was written
/// with. Device rows (or, for StorageGroups, index entries and Batched rows) would then be read from elsewhere: devices
/// would look absent. <paramref name="others"/> names the other settings that differ too, so one start names them all.
/// </summary>
public sealed class StorageLayoutMismatchException(string setting, string stored, string configured, string? others = null) : IndexLayoutMismatchException(
    $"The registry storage was written with Registry:{setting}={stored}, but this silo is configured with Registry:{setting}={configured}. " +
    Consequence(setting) +
    $" Nothing was changed. Start with Registry:{setting}={stored}, or point the registry at empty storage (another Registry:StoragePrefix) to use {configured}." +
    others)
{
    private static string Consequence(string setting) => setting switch
    {
        "StorageGroups" => "Index entries and Batched device rows would be looked up under other keys, so devices would vanish from listing and statistics (and, with Batched rows, from reads).",
        "StorageTables" => "Index entries and Batched device rows would be looked up in other tables, so devices would vanish from listing and statistics (and, with Batched rows, from reads).",
        "StoragePrefix" => "Spelt otherwise, the prefix names other blob containers and queues (they keep its hyphens; Blob device rows would be read from an empty container and the index verification would drop every entry) or, on storage that tells case apart such as Azurite, other tables.",
        _ => "Devices would be read from other rows, so every device would vanish from reads, listing and statistics.",
    };

    public string Setting { get; } = setting;

    public string Stored { get; } = stored;

    public string Configured { get; } = configured;
}

/// <summary>Why a silo refused to start: its configured partition count is not the one the index storage holds.</summary>
public sealed class IndexPartitionMismatchException(int stored, int configured, string? others = null) : IndexLayoutMismatchException(
    $"The index storage was written with IndexPartitions={stored}, but this silo is configured with IndexPartitions={configured}. " +
    $"Ids hash to partitions by that count, so with {configured} most devices would vanish from listing and statistics. " +
    $"Nothing was changed. Start with Registry:IndexPartitions={stored}, or point the registry at empty storage to use {configured}." +
    others)
{
    public int Stored { get; } = stored;

    public int Configured { get; } = configured;
}

/// <summary>
/// Refuses to start a silo whose <see cref="RegistryIndexOptions.Partitions"/> differs from the count the index storage
/// was written with: a different count silently hides most devices (ids hash to other partitions). The first start on
/// empty storage records its count in the index storage (a record beside the partitions); every later start compares.
/// Storage written before the record existed adopts the count of its first start with this check. The same record holds
/// <paramref name="serviceId"/> and <paramref name="deviceStorage"/> (when given): a start with another ServiceId or
/// DeviceStorage would read every device from rows that do not hold it, so it is refused the same way; a record written
/// before they were kept adopts the first values it meets. <paramref name="storageGroups"/> (durable mode) is compared the
/// same way; a record without it was written when the count was fixed at 32. <paramref name="storagePrefix"/> (durable
/// mode) too: prefixes that differ only by hyphens meet the same record (it is named after the tables) and, before it was
/// kept, a Blob registry restarted with its prefix's hyphen left out started on its own tables and an empty container,
/// and its verification dropped every index entry (a review, 2026-12-08). Runs at
/// <paramref name="stage"/>: durable storage can be read before the silo joins its cluster, so a refused silo never joins.
/// <para>
/// Memory storage lives in grains, and a grain call made from the silo's own start can wait for the start to end: with
/// the distributed grain directory a single silo's start hung for good waiting to address the memory storage grain (seen
/// in the test suite, and the suite's CI run stalled on it), and a second in-process silo's start failed after the 30 s
/// response timeout. With <paramref name="stopOnMismatch"/> (memory mode) the check
/// therefore does not hold the start: it runs once the silo is active, is asked again after a timeout, and a mismatch
/// stops the silo's host as the refusal.
/// </para>
/// <para>
/// In durable mode a check whose storage does not answer in time is asked again as <see cref="StartRetry"/> says (5 tries,
/// pauses from <paramref name="retryDelay"/>, 1 s, doubling), as the cluster's access policies are: one slow answer
/// right after a <c>kill -9</c> (a registry with a 0.3 s storage timeout) ended the start saying storage was down, and
/// the same start 30 s later was ready in 5.6 s (a review, 2026-12-07).
/// </para>
/// </summary>
public sealed partial class IndexPartitionCheck(
    IGrainStorage storage,
    IOptions<RegistryIndexOptions> options,
    ILogger<IndexPartitionCheck> logger,
    int stage,
    string? serviceId = null,
    string? deviceStorage = null,
    IHostApplicationLifetime? stopOnMismatch = null,
    int? storageGroups = null,
    int? storageTables = null,
    TimeSpan? retryDelay = null,
    string? storagePrefix = null) : ILifecycleParticipant<ISiloLifecycle>
{
    private const string StateName = "layout";
    private static readonly GrainId RecordId = GrainId.Create("registry-index-layout", "0");
    private readonly CancellationTokenSource _stopping = new();
    private Task _background = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle)
    {
        if (stopOnMismatch is null)
        {
            lifecycle.Subscribe(nameof(IndexPartitionCheck), stage, CheckAtStart);
            return;
        }
        lifecycle.Subscribe(nameof(IndexPartitionCheck), stage,
            _ =>
            {
                _background = Task.Run(() => CheckInBackground(stopOnMismatch, _stopping.Token));
                return Task.CompletedTask;
            },
            async ct =>
            {
                // A read still waiting (the storage grain never answered) does not hold the stop either.
                await _stopping.CancelAsync();
                await _background.WaitAsync(ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            });
    }

    /// <summary>The check without holding the start: asked again while the storage grain times out; a mismatch stops the host.</summary>
    public async Task CheckInBackground(IHostApplicationLifetime lifetime, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Check(cancellationToken);
                return;
            }
            catch (TimeoutException e)
            {
                LogCheckTimedOut(logger, e.Message);
            }
            catch (IndexLayoutMismatchException)
            {
                lifetime.StopApplication();
                return;
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>The durable start's check: asked again while storage does not answer in time (<see cref="StartRetry"/>).</summary>
    private Task CheckAtStart(CancellationToken cancellationToken) =>
        StartRetry.Run(async () =>
            {
                await Check(cancellationToken);
                return true;
            },
            (attempt, attempts, reason) => LogCheckRetried(logger, attempt, attempts, reason), retryDelay, cancellationToken);

    /// <summary>Reads the record, writes it when there is none (the ETag makes a racing first start re-read), and compares.</summary>
    public async Task Check(CancellationToken cancellationToken)
    {
        var configured = options.Value.Partitions;
        var record = new GrainState<IndexLayout>(new IndexLayout());
        await storage.ReadStateAsync(StateName, RecordId, record);
        if (!record.RecordExists)
        {
            record.State = new IndexLayout { Partitions = configured, ServiceId = serviceId, DeviceStorage = deviceStorage, StorageGroups = storageGroups, StorageTables = storageTables, StoragePrefix = Prefix };
            try
            {
                await storage.WriteStateAsync(StateName, RecordId, record);
                LogRecorded(logger, configured);
                return;
            }
            catch (InconsistentStateException)
            {
                // Another silo recorded its count first: that one is the registry's.
                record = new GrainState<IndexLayout>(new IndexLayout());
                await storage.ReadStateAsync(StateName, RecordId, record);
            }
        }

        // Every setting that differs, so one refused start names them all.
        var stored = record.State?.Partitions ?? 0;
        var differences = new List<(string Setting, string Stored, string Configured)>();
        if (stored != configured)
        {
            differences.Add(("IndexPartitions", Text(stored)!, Text(configured)!));
        }
        Compare(differences, "ServiceId", record.State?.ServiceId, serviceId, StringComparer.Ordinal);
        Compare(differences, "DeviceStorage", record.State?.DeviceStorage, deviceStorage, StringComparer.OrdinalIgnoreCase);
        Compare(differences, "StorageGroups", Text(record.State?.StorageGroups ?? IndexLayout.StorageGroupsBeforeTheSetting), Text(storageGroups), StringComparer.Ordinal);
        Compare(differences, "StorageTables", Text(record.State?.StorageTables ?? IndexLayout.StorageTablesBeforeTheSetting), Text(storageTables), StringComparer.Ordinal);
        Compare(differences, "StoragePrefix", record.State?.StoragePrefix, Prefix, StringComparer.Ordinal);
        if (differences.Count > 0)
        {
            var others = differences.Count == 1 ? null
                : " It differs in " + string.Join(" and ", differences.Skip(1).Select(d => $"Registry:{d.Setting} too (stored {d.Stored}, configured {d.Configured})")) + ".";
            var (setting, was, now) = differences[0];
            IndexLayoutMismatchException refusal = setting == "IndexPartitions"
                ? new IndexPartitionMismatchException(stored, configured, others)
                : new StorageLayoutMismatchException(setting, was, now, others);
            LogRefused(logger, refusal.Message);
            throw refusal;
        }
        if ((record.State!.ServiceId is null && serviceId is not null) || (record.State.DeviceStorage is null && deviceStorage is not null)
            || (record.State.StorageGroups is null && storageGroups is not null) || (record.State.StorageTables is null && storageTables is not null)
            || (record.State.StoragePrefix is null && Prefix is not null))
        {
            await Adopt(record, cancellationToken);
        }
    }

    /// <summary>The prefix as spelt (<see cref="IndexLayout.StoragePrefix"/>).</summary>
    private string? Prefix => storagePrefix;

    private static string? Text(int? value) => value?.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static void Compare(List<(string, string, string)> differences, string setting, string? stored, string? configured, StringComparer comparer)
    {
        if (stored is not null && configured is not null && !comparer.Equals(stored, configured))
        {
            differences.Add((setting, stored, configured));
        }
    }

    /// <summary>A record written before ServiceId and DeviceStorage were kept takes this start's; a racing start re-checks.</summary>
    private async Task Adopt(GrainState<IndexLayout> record, CancellationToken cancellationToken)
    {
        record.State = new IndexLayout
        {
            Partitions = record.State!.Partitions,
            ServiceId = record.State.ServiceId ?? serviceId,
            DeviceStorage = record.State.DeviceStorage ?? deviceStorage,
            StorageGroups = record.State.StorageGroups ?? storageGroups,
            StorageTables = record.State.StorageTables ?? storageTables,
            StoragePrefix = record.State.StoragePrefix ?? Prefix,
        };
        try
        {
            await storage.WriteStateAsync(StateName, RecordId, record);
        }
        catch (InconsistentStateException)
        {
            await Check(cancellationToken);
        }
    }

    [LoggerMessage(EventId = 2111, Level = LogLevel.Information, Message = "Index storage had no partition count; recorded IndexPartitions={Partitions}")]
    private static partial void LogRecorded(ILogger logger, int partitions);

    [LoggerMessage(EventId = 2112, Level = LogLevel.Critical, Message = "REFUSING TO START: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 2114, Level = LogLevel.Warning, Message = "The index layout check found storage slow while the silo started (try {Attempt} of {Attempts}); asking again: {Reason}")]
    private static partial void LogCheckRetried(ILogger logger, int attempt, int attempts, string reason);

    [LoggerMessage(EventId = 2113, Level = LogLevel.Warning, Message = "The index layout check timed out while the silo started; asking again: {Reason}")]
    private static partial void LogCheckTimedOut(ILogger logger, string reason);
}
