using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace Registry.Grains.Index;

/// <summary>The partition count the index storage was written with, kept beside the partitions themselves.</summary>
[GenerateSerializer, Alias("registry.IndexLayout")]
public sealed class IndexLayout
{
    [Id(0)] public int Partitions { get; set; }
}

/// <summary>Why a silo refused to start: its configured partition count is not the one the index storage holds.</summary>
public sealed class IndexPartitionMismatchException(int stored, int configured) : Exception(
    $"The index storage was written with IndexPartitions={stored}, but this silo is configured with IndexPartitions={configured}. " +
    $"Ids hash to partitions by that count, so with {configured} most devices would vanish from listing and statistics. " +
    $"Nothing was changed. Start with Registry:IndexPartitions={stored}, or point the registry at empty storage to use {configured}.")
{
    public int Stored { get; } = stored;

    public int Configured { get; } = configured;
}

/// <summary>
/// Refuses to start a silo whose <see cref="RegistryIndexOptions.Partitions"/> differs from the count the index storage
/// was written with: a different count silently hides most devices (ids hash to other partitions). The first start on
/// empty storage records its count in the index storage (a record beside the partitions); every later start compares.
/// Storage written before the record existed adopts the count of its first start with this check. Runs at
/// <paramref name="stage"/>: durable storage can be read before the silo joins its cluster, so a refused silo never joins.
/// </summary>
public sealed partial class IndexPartitionCheck(
    IGrainStorage storage,
    IOptions<RegistryIndexOptions> options,
    ILogger<IndexPartitionCheck> logger,
    int stage) : ILifecycleParticipant<ISiloLifecycle>
{
    private const string StateName = "layout";
    private static readonly GrainId RecordId = GrainId.Create("registry-index-layout", "0");

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(IndexPartitionCheck), stage, Check);

    /// <summary>Reads the record, writes it when there is none (the ETag makes a racing first start re-read), and compares.</summary>
    public async Task Check(CancellationToken cancellationToken)
    {
        var configured = options.Value.Partitions;
        var record = new GrainState<IndexLayout>(new IndexLayout());
        await storage.ReadStateAsync(StateName, RecordId, record);
        if (!record.RecordExists)
        {
            record.State = new IndexLayout { Partitions = configured };
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

        var stored = record.State?.Partitions ?? 0;
        if (stored != configured)
        {
            var refusal = new IndexPartitionMismatchException(stored, configured);
            LogRefused(logger, refusal.Message);
            throw refusal;
        }
    }

    [LoggerMessage(EventId = 2111, Level = LogLevel.Information, Message = "Index storage had no partition count; recorded IndexPartitions={Partitions}")]
    private static partial void LogRecorded(ILogger logger, int partitions);

    [LoggerMessage(EventId = 2112, Level = LogLevel.Critical, Message = "REFUSING TO START: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);
}
