using System.Buffers;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Storage;
using Registry.Abstractions;
using Registry.Grains.Devices;
using Registry.Grains.Registry;

namespace Registry.Grains.Jobs;

/// <summary>
/// Does one chunk of a job. Export reads acknowledged device state straight from the registry's storage in batches (no
/// device grain activates); import applies lines through <see cref="BulkOperationApplier"/>, the bulk endpoint's own
/// per-item rules. A stateless worker: activations are local to the caller, as many as the silo has cores.
/// </summary>
[StatelessWorker]
public sealed class BulkJobGrain(
    [FromKeyedServices(StorageNames.Registry)] IGrainStorage storage,
    IDeviceLineFormat format,
    IOptions<JobOptions> options,
    IServiceProvider services,
    ILogger<BulkJobGrain> logger) : Grain, IBulkJobGrain
{
    private const int IndexPageSize = 1000;
    private const int ReadBatch = 100;

    private BulkOperationApplier? _applier;

    private BulkOperationApplier Applier => _applier ??= new(id => GrainFactory.GetGrain<IDeviceGrain>(id), logger);

    public async Task<ExportChunkResult> ExportPartition(ExportChunk chunk)
    {
        var blob = JobBlobs.Container(chunk.ContainerUri, "output").GetBlockBlobClient(chunk.BlobName);
        var index = GrainFactory.GetGrain<IDeviceIndexGrain>(chunk.Partition);
        var blockBytes = options.Value.ExportBlockBytes;
        var buffer = new ArrayBufferWriter<byte>(blockBytes + 64 * 1024);
        var blocks = 0;
        long devices = 0;
        string? after = null;
        while (true)
        {
            var page = await index.Page(after, IndexPageSize);
            foreach (var batch in page.Entries.Chunk(ReadBatch))
            {
                // Phantoms (an index entry whose device is gone) read as null and are not exported.
                var read = await Task.WhenAll(batch.Select(e =>
                    DeviceStorage.ReadIdentityAsync(storage, GrainFactory.GetGrain<IDeviceGrain>(e.DeviceId).GetGrainId())));
                foreach (var device in read.OfType<DeviceIdentity>())
                {
                    format.WriteDevice(device, chunk.ExcludeKeys, buffer);
                    buffer.Write("\n"u8);
                    devices++;
                }
                if (buffer.WrittenCount >= blockBytes)
                {
                    await Stage(blob, chunk.Partition, blocks++, buffer);
                }
            }
            if (!page.HasMore || page.Entries.Count == 0)
            {
                break;
            }
            after = page.Entries[^1].DeviceId;
        }
        if (buffer.WrittenCount > 0)
        {
            await Stage(blob, chunk.Partition, blocks++, buffer);
        }
        return new ExportChunkResult(blocks, devices);
    }

    private static async Task Stage(BlockBlobClient blob, int partition, int sequence, ArrayBufferWriter<byte> buffer)
    {
        // Same id on a retry: a re-export of the partition overwrites its uncommitted blocks instead of adding to them.
        var id = JobBlobs.ExportBlockId(partition, sequence);
        await JobBlobs.Call("stage a block of the export blob", () =>
            blob.StageBlockAsync(id, BinaryData.FromBytes(buffer.WrittenMemory).ToStream()));
        buffer.ResetWrittenCount();
    }

    public async Task<ImportChunkResult> ImportChunk(ImportChunk chunk)
    {
        if (services.GetService<IImportChunkGate>() is { } gate)
        {
            await gate.Enter(chunk);
        }

        var errors = new List<(long Offset, ImportLineError Error)>();
        var operations = new List<(long Offset, BulkOperation Operation)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (offset, start, length) in ImportLines.Split(chunk.Data, chunk.Offset))
        {
            var line = chunk.Data.AsSpan(start, length);
            if (line.IsEmpty || line[0] != (byte)'{')
            {
                continue;
            }
            var parsed = format.Parse(line);
            if (parsed.Error is { } error)
            {
                errors.Add((offset, error));
            }
            else if (!seen.Add(parsed.Operation!.Device.DeviceId))
            {
                // Lines of one chunk run at once; two for one device would race, so the later one is refused.
                var id = parsed.Operation.Device.DeviceId;
                errors.Add((offset, new ImportLineError(id, RegistryErrorCode.DeviceDefinedMultipleTimes,
                    $"The device '{id}' is defined more than once in the same {options.Value.ImportChunkLines}-line slice of the input.")));
            }
            else
            {
                operations.Add((offset, parsed.Operation));
            }
        }

        var outcomes = await Task.WhenAll(operations.Select(o => Applier.Apply(o.Operation)));
        var retried = await RetryUnanswered(operations, outcomes);
        long applied = 0;
        for (var i = 0; i < outcomes.Length; i++)
        {
            if (outcomes[i] is not { } failure)
            {
                applied++;
            }
            else if ((chunk.Replay || retried[i]) && await ImportReplay.AlreadyApplied(GrainFactory, operations[i].Operation, failure))
            {
                applied++;
            }
            else
            {
                errors.Add((operations[i].Offset, new ImportLineError(failure.DeviceId, failure.ErrorCode, failure.ErrorStatus)));
            }
        }
        services.GetService<IImportChunkGate>()?.Applied(chunk);
        return new ImportChunkResult(applied, errors.OrderBy(e => e.Offset).Select(e => e.Error).ToArray());
    }

    /// <summary>
    /// Lines the registry did not answer in time (503: a silo failing over, storage slow) are applied again, a few times
    /// with a growing pause, instead of being logged as failed: an import is not the client that can retry them, and a
    /// failover would otherwise leave lines out of a job that completes. A retried line may have landed the first time,
    /// so it is judged as a replay (<see cref="ImportReplay"/>). Returns which lines were retried.
    /// </summary>
    private async Task<bool[]> RetryUnanswered(List<(long Offset, BulkOperation Operation)> operations, BulkOperationError?[] outcomes)
    {
        var retried = new bool[outcomes.Length];
        for (var attempt = 1; attempt <= options.Value.UnansweredLineRetries; attempt++)
        {
            var again = Enumerable.Range(0, outcomes.Length).Where(i => outcomes[i] is { ErrorCode: RegistryErrorCode.ServiceUnavailable }).ToArray();
            if (again.Length == 0)
            {
                break;
            }
            await Task.Delay(options.Value.UnansweredLineDelay * attempt);
            var answers = await Task.WhenAll(again.Select(i => Applier.Apply(operations[i].Operation)));
            for (var k = 0; k < again.Length; k++)
            {
                outcomes[again[k]] = answers[k];
                retried[again[k]] = true;
            }
        }
        return retried;
    }
}

/// <summary>A test seam: holds an import chunk before it is applied, so a test can stop a silo mid-job deterministically.</summary>
public interface IImportChunkGate
{
    /// <summary>Before the chunk's lines are applied; the chunk waits for the returned task.</summary>
    Task Enter(ImportChunk chunk);

    /// <summary>After the chunk's lines were applied, before the job grain hears of it.</summary>
    void Applied(ImportChunk chunk);
}
