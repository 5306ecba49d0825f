using System.Buffers;
using System.Diagnostics;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Storage;
using Registry.Abstractions;
using Registry.Grains.Devices;
using Registry.Grains.Index;
using Registry.Grains.Registry;

namespace Registry.Grains.Jobs;

/// <summary>
/// Does one chunk of a job. Export reads acknowledged device state straight from the registry's storage in batches (no
/// device grain activates); import applies lines through <see cref="BulkOperationApplier"/>, the bulk endpoint's own
/// per-item rules. A stateless worker: activations are local to the caller, as many as the silo has cores. Reentrant: a
/// chunk spends its time awaiting storage, not computing, so the job's chunks in flight all run at once instead of
/// queueing behind one chunk per core (where a queued chunk could outwait the job's call timeout and fail the job).
/// </summary>
[StatelessWorker]
[Reentrant]
public sealed partial class BulkJobGrain(
    [FromKeyedServices(StorageNames.Registry)] IGrainStorage storage,
    IDeviceLineFormat format,
    IOptions<JobOptions> options,
    IOptions<RegistryIndexOptions> indexOptions,
    JobStops stops,
    IServiceProvider services,
    ILogger<BulkJobGrain> logger) : Grain, IBulkJobGrain
{
    private const int IndexPageSize = 1000;
    private const int ReadBatch = 100;

    private BulkOperationApplier? _applier;

    private BulkOperationApplier Applier => _applier ??= new(id => GrainFactory.GetGrain<IDeviceGrain>(id), logger);

    public Task<ExportChunkResult> ExportPartition(ExportChunk chunk) =>
        UntilStopped(chunk.JobId, stopped => Export(chunk, stopped), () => services.GetService<IExportPartitionGate>()?.Stopped(chunk));

    private async Task<ExportChunkResult> Export(ExportChunk chunk, CancellationToken stopped)
    {
        if (services.GetService<IExportPartitionGate>() is { } gate)
        {
            await gate.Enter(chunk).WaitAsync(stopped);
        }

        var blob = JobBlobs.Container(chunk.ContainerUri, "output").GetBlockBlobClient(chunk.BlobName);
        var blockBytes = options.Value.ExportBlockBytes;
        var buffer = new ArrayBufferWriter<byte>(blockBytes + 64 * 1024);
        var blocks = 0;
        long devices = 0;
        var read = services.GetService<IDevicePartitionScan>() is { } scan ? scan.Scan(chunk.Partition) : ReadThroughIndex(chunk.Partition);
        await foreach (var device in read)
        {
            stopped.ThrowIfCancellationRequested();
            format.WriteDevice(device, chunk.ExcludeKeys, buffer);
            buffer.Write("\n"u8);
            devices++;
            if (buffer.WrittenCount >= blockBytes)
            {
                await Stage(blob, chunk.Partition, blocks++, buffer);
            }
        }
        if (buffer.WrittenCount > 0)
        {
            await Stage(blob, chunk.Partition, blocks++, buffer);
        }
        services.GetService<IExportPartitionGate>()?.Staged(chunk);
        return new ExportChunkResult(blocks, devices);
    }

    public Task<ExportGroupResult> ExportGroup(ExportGroup group) =>
        UntilStopped(group.JobId, stopped => Export(group, stopped), () =>
        {
            if (services.GetService<IExportPartitionGate>() is { } gate)
            {
                foreach (var partition in group.Partitions)
                {
                    gate.Stopped(group.Chunk(partition));
                }
            }
        });

    private async Task<ExportGroupResult> Export(ExportGroup group, CancellationToken stopped)
    {
        var scan = services.GetService<IDevicePartitionScan>()
            ?? throw new InvalidOperationException("This silo's device storage offers no scan: export its partitions one by one.");
        var gate = services.GetService<IExportPartitionGate>();
        if (gate is not null)
        {
            await Task.WhenAll(group.Partitions.Select(p => gate.Enter(group.Chunk(p)))).WaitAsync(stopped);
        }

        var blob = JobBlobs.Container(group.ContainerUri, "output").GetBlockBlobClient(group.BlobName);
        // The group's partitions share one block's worth of memory: each stages its lines at its share of it (blocks of
        // a few hundred KB at 8 partitions a group), so a worker holds about one block however many partitions it reads.
        var blockBytes = Math.Max(1, options.Value.ExportBlockBytes / group.Partitions.Count);
        var outputs = group.Partitions.ToDictionary(p => p, _ => new PartitionOutput(new ArrayBufferWriter<byte>(blockBytes + 64 * 1024)));
        await foreach (var (partition, device) in scan.ScanGroup(group.Partitions, stopped))
        {
            stopped.ThrowIfCancellationRequested();
            var output = outputs[partition];
            format.WriteDevice(device, group.ExcludeKeys, output.Buffer);
            output.Buffer.Write("\n"u8);
            output.Devices++;
            if (output.Buffer.WrittenCount >= blockBytes)
            {
                await Stage(blob, partition, output.Blocks++, output.Buffer);
            }
        }
        // Each partition's last block, all at once: one after another, the group's uploads would add up (a partition of a
        // small registry is one block).
        await Task.WhenAll(outputs.Where(o => o.Value.Buffer.WrittenCount > 0).Select(o => Stage(blob, o.Key, o.Value.Blocks++, o.Value.Buffer)));
        foreach (var partition in group.Partitions)
        {
            gate?.Staged(group.Chunk(partition));
        }
        return new ExportGroupResult(group.Partitions.Select(p => new ExportPartitionResult(p, outputs[p].Blocks, outputs[p].Devices)).ToArray());
    }

    /// <summary>One partition's lines not yet staged, and what it staged so far.</summary>
    private sealed class PartitionOutput(ArrayBufferWriter<byte> buffer)
    {
        public ArrayBufferWriter<byte> Buffer => buffer;

        public int Blocks { get; set; }

        public long Devices { get; set; }
    }

    /// <summary>
    /// The partition's devices through its index pages, each page's devices read from storage in batches: for storages
    /// whose rows cannot be scanned by partition. Phantoms (an index entry whose device is gone) read as null and are skipped.
    /// </summary>
    private async IAsyncEnumerable<DeviceIdentity> ReadThroughIndex(int partition)
    {
        var index = GrainFactory.GetGrain<IDeviceIndexGrain>(partition);
        string? after = null;
        while (true)
        {
            var page = await index.Page(after, IndexPageSize);
            foreach (var batch in page.Entries.Chunk(ReadBatch))
            {
                var read = await Task.WhenAll(batch.Select(e =>
                    DeviceStorage.ReadIdentityAsync(storage, GrainFactory.GetGrain<IDeviceGrain>(e.DeviceId).GetGrainId())));
                foreach (var device in read.OfType<DeviceIdentity>())
                {
                    yield return device;
                }
            }
            if (!page.HasMore || page.Entries.Count == 0)
            {
                yield break;
            }
            after = page.Entries[^1].DeviceId;
        }
    }

    /// <summary>
    /// The devices a chunk wrote leave memory now instead of after their idle time (minutes): a million-line import would
    /// otherwise hold a million activations, gigabytes. A device with a session keeps its activation; the others are
    /// read back from storage by their next call.
    /// </summary>
    private Task Rest(IEnumerable<(string DeviceId, (BulkOperationError? Error, DeviceIdentity? Device) Outcome)> applied) =>
        Task.WhenAll(applied.Select(a => Rest(a.DeviceId, a.Outcome)));

    private async Task Rest(string deviceId, (BulkOperationError? Error, DeviceIdentity? Device) outcome)
    {
        if (outcome.Error is not null || outcome.Device?.ConnectionState == DeviceConnectionState.Connected)
        {
            return;
        }
        try
        {
            await GrainFactory.GetGrain<IImportedDevice>(deviceId).Rest();
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            // Only memory is at stake: the device then leaves after its idle time, as any other.
        }
    }

    /// <summary>
    /// A line applied again (a replayed chunk, or a retried line) may meet what its first attempt left half done: a delete
    /// whose device row went but whose index entry stayed (the repair timer died with its silo), or an entry flagged for a
    /// status its device never got. Its device makes the entry agree with its state before the chunk reports, so a job
    /// that ends `completed` leaves the statistics exact. A device that cannot do it now is left to the partition's
    /// verification pass, which converges the same entry later.
    /// </summary>
    private Task ReconcileReplayed(IEnumerable<string> deviceIds) =>
        Task.WhenAll(deviceIds.Select(async id =>
        {
            try
            {
                await GrainFactory.GetGrain<IIndexedDevice>(id).Reconcile();
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                LogReconcileFailed(logger, e, id);
            }
        }));

    [LoggerMessage(EventId = 2310, Level = LogLevel.Warning, Message = "The index entry of replayed import line's device {DeviceId} could not be reconciled now; the partition's verification pass will")]
    private static partial void LogReconcileFailed(ILogger logger, Exception exception, string deviceId);

    /// <summary>One line, unless the job was stopped before its turn came (its lines start at once but queue on the silo).</summary>
    private static readonly TimeSpan MaxUnansweredLineDelay = TimeSpan.FromSeconds(10);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private async Task<(BulkOperationError? Error, DeviceIdentity? Device)> Apply(BulkOperation operation, CancellationToken stopped)
    {
        await Task.Yield();
        stopped.ThrowIfCancellationRequested();
        return await Applier.ApplyToDevice(operation);
    }

    private static async Task Stage(BlockBlobClient blob, int partition, int sequence, ArrayBufferWriter<byte> buffer)
    {
        // Same id on a retry: a re-export of the partition overwrites its uncommitted blocks instead of adding to them.
        var id = JobBlobs.ExportBlockId(partition, sequence);
        await JobBlobs.Call("stage a block of the export blob", () =>
            blob.StageBlockAsync(id, BinaryData.FromBytes(buffer.WrittenMemory).ToStream()));
        buffer.ResetWrittenCount();
    }

    // A cancelled job's chunk stops before its next line: whatever it has not started is not applied.
    public Task<ImportChunkResult> ImportChunk(ImportChunk chunk) =>
        UntilStopped(chunk.JobId, stopped => Import(chunk, stopped), () => services.GetService<IImportChunkGate>()?.Stopped(chunk));

    /// <summary>
    /// Runs a chunk of job <paramref name="jobId"/> under its stop token (<see cref="JobStops"/>). A chunk stopped because
    /// its silo is stopping (not because its job was cancelled) says so, and the job sends it elsewhere.
    /// </summary>
    private async Task<T> UntilStopped<T>(string jobId, Func<CancellationToken, Task<T>> chunk, Action onStopped)
    {
        var stopped = stops.For(jobId);
        using var running = stops.Run();
        try
        {
            return await chunk(stopped);
        }
        catch (OperationCanceledException) when (stopped.IsCancellationRequested)
        {
            onStopped();
            if (stops.SiloStopping)
            {
                throw new JobWorkerStoppingException($"Silo {RuntimeIdentity} is stopping: the chunk stopped before its next line.");
            }
            throw;
        }
    }

    private async Task<ImportChunkResult> Import(ImportChunk chunk, CancellationToken stopped)
    {
        if (services.GetService<IImportChunkGate>() is { } gate)
        {
            await gate.Enter(chunk).WaitAsync(stopped);
        }

        var errors = new List<(long Offset, ImportLineError Error)>();
        var operations = new List<(long Offset, BulkOperation Operation)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        // What attempts stopped by their silos' stops finished: not applied again, reported as they ended.
        var doneApplied = (chunk.Done?.Applied ?? []).ToHashSet();
        var doneFailed = (chunk.Done?.Failed ?? []).ToDictionary(f => f.Offset, f => f.Error);
        var unanswered = (chunk.Done?.Unanswered ?? []).ToHashSet();
        var doomed = (chunk.DoomedLines ?? []).ToHashSet();
        // Devices whose lines an attempt stopped by its silo's stop applied: a line that ended during the stop may have
        // left its index entry behind (the partition was no longer placed there, and the repair timer died with the silo).
        var handedBack = new List<string>();
        long applied = doneApplied.Count;
        errors.AddRange(doneFailed.Select(f => (f.Key, f.Value)));
        foreach (var (offset, start, length) in ImportLines.Split(chunk.Data, chunk.Offset))
        {
            // Spaces and tabs before the object are JSON whitespace, not a comment: the line is a device all the same.
            var line = chunk.Data.AsSpan(start, length).TrimStart(" \t"u8);
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
            else if (doneApplied.Contains(offset))
            {
                handedBack.Add(parsed.Operation.Device.DeviceId);
            }
            else if (!doneFailed.ContainsKey(offset))
            {
                operations.Add((offset, parsed.Operation));
            }
        }

        stopped.ThrowIfCancellationRequested();
        operations = ImportOrder.ByStorageGroup(operations, indexOptions.Value.Partitions, options.Value.StorageGroups);
        var outcomes = new (BulkOperationError? Error, DeviceIdentity? Device)[operations.Count];
        var finished = new bool[operations.Count];
        // A line an earlier attempt may have applied: one that fails as its own success would counts as applied.
        var replayed = operations.Select(o => chunk.Replay || unanswered.Contains(o.Offset)).ToArray();
        var rested = new bool[operations.Count];
        // Through a window, in storage-group order: the lines in flight share few groups, so their writes meet in
        // transactions. A device whose line is done leaves memory at once (unless the chunk is a replay, whose devices
        // reconcile below), so a long chunk holds a window's activations, not the chunk's.
        // The job's pace may ask for fewer at once than the setting (storage did not answer its earlier chunks in time).
        var linesInFlight = Math.Max(1, chunk.LinesInFlight > 0 ? Math.Min(chunk.LinesInFlight, options.Value.ImportLinesInFlight) : options.Value.ImportLinesInFlight);
        var retried = new bool[outcomes.Length];
        try
        {
            await ApplyLines(operations, outcomes, finished, replayed, rested, retried, linesInFlight, stopped);
        }
        catch (OperationCanceledException) when (stopped.IsCancellationRequested && stops.SiloStopping)
        {
            // The lines in flight have ended (the loops wait for them): the job gets what each started line came to, and
            // sends the chunk again elsewhere with it, so a line is never applied twice nor its error lost (a replay of
            // the whole chunk counted a delete finding no device as applied: hostile review, 2026-12-06).
            services.GetService<IImportChunkGate>()?.Stopped(chunk);
            return new ImportChunkResult(0, []) { StoppedWith = Progress(chunk.Done, operations, outcomes, finished, replayed, retried) };
        }
        await ReconcileReplayed(Enumerable.Range(0, outcomes.Length).Where(i => replayed[i] || retried[i]).Select(i => operations[i].Operation.Device.DeviceId)
            .Concat(handedBack));
        await Rest(outcomes.Select((outcome, i) => (operations[i].Operation.Device.DeviceId, outcome)).Where((_, i) => !rested[i]));
        for (var i = 0; i < outcomes.Length; i++)
        {
            if (outcomes[i].Error is not { } failure)
            {
                applied++;
            }
            else if ((replayed[i] || retried[i]) && !doomed.Contains(operations[i].Offset)
                && await ImportReplay.AlreadyApplied(GrainFactory, operations[i].Operation, failure, chunk.JobStarted))
            {
                applied++;
            }
            else
            {
                errors.Add((operations[i].Offset, new ImportLineError(failure.DeviceId, failure.ErrorCode, failure.ErrorStatus)));
            }
        }
        stopped.ThrowIfCancellationRequested();
        services.GetService<IImportChunkGate>()?.Applied(chunk);
        return new ImportChunkResult(applied, errors.OrderBy(e => e.Offset).Select(e => e.Error).ToArray()) { Unanswered = retried.Count(r => r) };
    }

    /// <summary>
    /// Applies a chunk's lines through a window, then again those storage did not answer in time (see below); a line's
    /// outcome is recorded, and <paramref name="finished"/> set, once its device answered.
    /// </summary>
    private async Task ApplyLines(List<(long Offset, BulkOperation Operation)> operations,
        (BulkOperationError? Error, DeviceIdentity? Device)[] outcomes, bool[] finished, bool[] replayed, bool[] rested, bool[] retried,
        int linesInFlight, CancellationToken stopped)
    {
        await Parallel.ForEachAsync(Enumerable.Range(0, operations.Count),
            new ParallelOptions { MaxDegreeOfParallelism = linesInFlight, CancellationToken = stopped, TaskScheduler = TaskScheduler.Current },
            async (i, _) =>
            {
                outcomes[i] = await Apply(operations[i].Operation, stopped);
                finished[i] = true;
                // Once the silo stops, its grains go anyway: a rest asked then could only meet a silo that no longer places them.
                if (!replayed[i] && outcomes[i].Error?.ErrorCode != RegistryErrorCode.ServiceUnavailable && !stopped.IsCancellationRequested)
                {
                    rested[i] = true;
                    await Rest(operations[i].Operation.Device.DeviceId, outcomes[i]);
                }
            });
        // Lines storage did not answer in time are applied again rather than logged: an import meeting busy storage is
        // slowed, not left with lines to redo. Each round applies half as many at once as the round before (down to one),
        // so storage that timed out under a chunk's worth of writes at once gets them at a rate it answers; rounds go on
        // until every line is answered or the window closes. A retried line's first write may have landed after its
        // timeout, so a retry counts as a replay.
        var window = Stopwatch.StartNew();
        var width = Math.Min(outcomes.Length, linesInFlight);
        for (var round = 1; window.Elapsed < options.Value.UnansweredLineWindow; round++)
        {
            var again = Enumerable.Range(0, outcomes.Length).Where(i => outcomes[i].Error?.ErrorCode == RegistryErrorCode.ServiceUnavailable).ToArray();
            if (again.Length == 0)
            {
                break;
            }
            // A growing pause: a silo failing over or storage catching up needs seconds, not an immediate second try.
            await Task.Delay(Min(options.Value.UnansweredLineDelay * round, MaxUnansweredLineDelay), stopped);
            width = Math.Max(1, Math.Min(width, again.Length) / 2);
            await Parallel.ForEachAsync(again, new ParallelOptions { MaxDegreeOfParallelism = width, CancellationToken = stopped, TaskScheduler = TaskScheduler.Current }, async (i, _) =>
            {
                // A round cut short by the window leaves its unstarted lines as they were: unanswered, then logged.
                if (window.Elapsed < options.Value.UnansweredLineWindow)
                {
                    retried[i] = true;
                    outcomes[i] = await Apply(operations[i].Operation, stopped);
                }
            });
        }
    }

    /// <summary>
    /// What a chunk stopped by its silo's stop had finished, with what earlier stopped attempts had (<paramref name="before"/>):
    /// a line applied, or failed for certain, is done; one that storage did not answer, or a replayed one that failed (it may
    /// be its own earlier success), is applied again as a replay; one never started is not named.
    /// </summary>
    private static ImportChunkProgress Progress(ImportChunkProgress? before, List<(long Offset, BulkOperation Operation)> operations,
        (BulkOperationError? Error, DeviceIdentity? Device)[] outcomes, bool[] finished, bool[] replayed, bool[] retried)
    {
        var applied = new List<long>(before?.Applied ?? []);
        var failed = new List<ImportLineFailure>(before?.Failed ?? []);
        var unanswered = new List<long>();
        for (var i = 0; i < operations.Count; i++)
        {
            var offset = operations[i].Offset;
            var uncertain = replayed[i] || retried[i];
            if (!finished[i])
            {
                if (uncertain)
                {
                    unanswered.Add(offset);
                }
            }
            else if (outcomes[i].Error is not { } failure)
            {
                applied.Add(offset);
            }
            else if (uncertain || failure.ErrorCode == RegistryErrorCode.ServiceUnavailable)
            {
                unanswered.Add(offset);
            }
            else
            {
                failed.Add(new ImportLineFailure(offset, new ImportLineError(failure.DeviceId, failure.ErrorCode, failure.ErrorStatus)));
            }
        }
        return new ImportChunkProgress(applied, failed, unanswered);
    }
}

/// <summary>A test seam: holds an import chunk before it is applied, so a test can stop a silo mid-job deterministically.</summary>
public interface IImportChunkGate
{
    /// <summary>Before the chunk's lines are applied; the chunk waits for the returned task.</summary>
    Task Enter(ImportChunk chunk);

    /// <summary>After the chunk's lines were applied, before the job grain hears of it.</summary>
    void Applied(ImportChunk chunk);

    /// <summary>When the chunk stopped because its job was cancelled.</summary>
    void Stopped(ImportChunk chunk)
    {
    }
}

/// <summary>
/// A test seam: holds a partition's export before it starts, so a test can stop a silo mid-export deterministically. A
/// group's export (<see cref="IBulkJobGrain.ExportGroup"/>) passes each of its partitions through it.
/// </summary>
public interface IExportPartitionGate
{
    /// <summary>Before the partition is read; the export waits for the returned task.</summary>
    Task Enter(ExportChunk chunk);

    /// <summary>After the partition's blocks were staged, before the job grain hears of it.</summary>
    void Staged(ExportChunk chunk);

    /// <summary>When the partition's export stopped because its job was cancelled or its silo is stopping.</summary>
    void Stopped(ExportChunk chunk)
    {
    }
}
