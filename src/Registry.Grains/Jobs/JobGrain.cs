using System.Buffers;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;
using Registry.Grains.Devices;
using InFlightChunk = (Registry.Grains.Jobs.InputChunk Chunk, System.Threading.Tasks.Task<Registry.Grains.Jobs.ImportChunkResult> Result, System.Collections.Generic.HashSet<string> Ids, Registry.Grains.Jobs.ImportAttempt Attempt);

namespace Registry.Grains.Jobs;

/// <summary>
/// One import or export job: its durable state and checkpoint, and the loop that hands its chunks to
/// <see cref="IBulkJobGrain"/> workers. The loop runs in the background of this activation; after its silo failed, the
/// next activation (by the reminder kept while the job has not ended, or by any call) resumes it from the checkpoint.
/// </summary>
public sealed partial class JobGrain(
    [PersistentState("job", StorageNames.Jobs)] IPersistentState<JobState> state,
    [FromKeyedServices(StorageNames.Registry)] IGrainStorage registry,
    IOptions<JobOptions> options,
    IOptions<RegistryIndexOptions> indexOptions,
    IDeviceLineFormat format,
    [FromKeyedServices(RegistryClock.Key)] TimeProvider clock,
    IHostApplicationLifetime lifetime,
    IClusterMembershipService membership,
    JobStops stops,
    ILogger<JobGrain> logger) : Grain, IJobGrain, IRemindable
{
    /// <summary>The reminder kept while the job has not ended: it brings the job back after its silo failed.</summary>
    internal const string ResumeReminder = "resume";

    private Task? _run;
    private CancellationTokenSource? _stop;

    /// <summary>Set once this activation is leaving: its import loop hands back its chunks in flight (<see cref="HandBack"/>).</summary>
    private bool _deactivating;

    /// <summary>
    /// The job as last stored while an end is being written: until the end is stored nobody is told of it, since a
    /// job whose end storage never took would resume after a restart (and must not have been reported ended).
    /// </summary>
    private JobProperties? _stored;

    private JobProperties Job
    {
        get => state.State.Job!;
        set => state.State.Job = value;
    }

    private string JobId => this.GetPrimaryKeyString();

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    public async Task<JobProperties> Start(JobRequest request)
    {
        if (state.State.Job is { } existing)
        {
            return existing;
        }
        Job = new JobProperties { JobId = JobId, Request = request, Status = JobStatus.Enqueued, CreatedTimeUtc = Now };
        await Store(CancellationToken.None);
        await this.RegisterOrUpdateReminder(ResumeReminder, options.Value.ReminderPeriod, options.Value.ReminderPeriod);
        var enqueued = Job;
        Launch();
        return enqueued;
    }

    public Task<JobProperties?> Get() => Task.FromResult(_stored ?? state.State.Job);

    public async Task<JobProperties> Cancel()
    {
        if (state.State.Job is null)
        {
            throw JobNotFound(JobId);
        }
        if (Job.Status.IsTerminal())
        {
            return Job;
        }
        // The chunks in flight stop first (the workers check per line), and the loop waits for them: only then is the
        // job cancelled, so nothing is applied after the answer and the active-job slot is free only once it is true.
        _stop?.Cancel();
        await StopWorkers();
        if (_run is { } run)
        {
            await run;
        }
        if (Job.Status.IsTerminal())
        {
            return Job;
        }
        if (!await End(JobStatus.Cancelled, null))
        {
            throw new RegistryException(RegistryErrorCode.ServiceUnavailable, $"The cancellation of job {JobId} could not be stored. Retry it.");
        }
        return Job;
    }

    /// <summary>Tells every silo's workers to stop the job's chunks; a silo that does not answer has no chunk of it to stop.</summary>
    private async Task StopWorkers()
    {
        var silos = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress);
        await Task.WhenAll(silos.Select(async silo =>
        {
            try
            {
                await GrainFactory.GetGrain<IJobWorkerGrain>(silo.ToParsableString()).Stop(JobId);
            }
            catch (Exception e) when (e is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException)
            {
            }
        }));
    }

    public async Task Forget()
    {
        if (state.State.Job is { } job && job.Status.IsTerminal())
        {
            await state.ClearStateAsync();
            state.State = new JobState();
        }
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (state.State.Job is not { } job || job.Status.IsTerminal())
        {
            await StopReminder();
            return;
        }
        Launch();
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A job that has not ended but has no loop lost its activation (its silo died): whatever activates it again,
        // the reminder or a caller's GET, resumes it from its checkpoint instead of leaving it running with no one at work.
        if (state.State.Job is { } job && !job.Status.IsTerminal())
        {
            Launch();
        }
        else if (state.State.Job is not null)
        {
            // An end whose write was answered too late (storage bounded in time) yet landed left the reminder behind:
            // this activation reads the end, so the reminder goes now rather than at its next tick.
            try
            {
                await StopReminder();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogReminderLeft(logger, e, JobId);
            }
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // The job is not over: stop the loop without marking it; the reminder resumes it from its checkpoint. The loop is
        // waited for (it hands back its import chunks in flight, bounded by JobOptions.HandBackWait): until this activation
        // is gone no other can start, so what it stores cannot cross a resume elsewhere.
        _deactivating = true;
        _stop?.Cancel();
        if (_run is { IsCompleted: false } run)
        {
            try
            {
                await run.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // Deactivation's own bound: the etag keeps a late write of this loop from overwriting a resume's.
            }
        }
    }

    /// <summary>IoT Hub's 404 for a job id it does not know (or no longer keeps).</summary>
    internal static RegistryException JobNotFound(string jobId) => new(RegistryErrorCode.JobNotFound, $"Job {jobId} not found");

    private void Launch()
    {
        if (_run is { IsCompleted: false })
        {
            return;
        }
        // A silo that stops (or is killed) stops its jobs' loops first: what its workers then fail with is not the job's
        // failure, and the job, still running in its state, resumes on another silo.
        _stop?.Dispose();
        _stop = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping);
        _run = Run(_stop.Token);
    }

    private async Task Run(CancellationToken stop)
    {
        // A stopping silo leaves the cluster once this loop has handed back what its chunks came to (JobDrain).
        using var running = stops.Run();
        try
        {
            Job = Job with { Status = JobStatus.Running, StartTimeUtc = Job.StartTimeUtc ?? Now };
            await Store(stop);
            LogRunning(logger, JobId, Job.Request.Type);
            if (Job.Request.Type == JobType.Export)
            {
                await Export(stop);
            }
            else
            {
                await Import(stop);
            }
            EnsureRunning(stop);
            await End(JobStatus.Completed, null);
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
            // Cancelled (Cancel ends the job once this loop has stopped) or deactivating (the reminder resumes the job);
            // what a chunk failed with once stopped is not the job's failure.
        }
        catch (JobStorageException e) when (!stop.IsCancellationRequested)
        {
            LogStorageFailed(logger, e, JobId);
            await Fail(JobFailureReason.Of(e));
        }
        catch (Exception e) when (!stop.IsCancellationRequested)
        {
            LogCrashed(logger, e, JobId);
            await Fail(JobFailureReason.Of(e));
        }
    }

    /// <summary>
    /// Ends the job once its end is stored; until then callers see it as it was. An end storage did not take is not
    /// an end: the activation leaves, and the next one reads what storage holds (resuming a job still running there).
    /// </summary>
    private async Task<bool> End(JobStatus status, string? reason)
    {
        var before = Job;
        _stored = before;
        Job = Job with { Status = status, Progress = status == JobStatus.Completed ? 100 : Job.Progress, EndTimeUtc = Now, FailureReason = reason };
        try
        {
            await Store(CancellationToken.None);
        }
        catch (Exception e)
        {
            Job = before;
            LogEndNotStored(logger, e, JobId, status);
            DeactivateOnIdle();
            return false;
        }
        finally
        {
            _stored = null;
        }
        CountEnded();
        LogEnded(logger, JobId, status, reason);
        await StopReminder();
        return true;
    }

    /// <summary>
    /// Attempts of one job-state write: with the backoff below, a storage that answers nothing in time is given ~1.5 min
    /// of waits plus each attempt's own time bound. Five attempts (~8 s of waits) failed a 100k import whose silo was
    /// killed: Azurite, busy with the replay, let one checkpoint write time out five times and the job ended Failed.
    /// </summary>
    internal const int MaxStoreAttempts = 20;

    /// <summary>
    /// Writes the job's state, again after a failure (a timeout, storage busy), a bounded number of times. A failed
    /// write may have landed after its timeout, leaving our etag stale: on a conflict the state is read again for its
    /// etag and ours written over it, this activation being the job's only writer.
    /// </summary>
    private async Task Store(CancellationToken stop)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await state.WriteStateAsync();
                return;
            }
            catch (Exception e) when (attempt < MaxStoreAttempts && e is not OperationCanceledException)
            {
                LogStoreRetry(logger, JobId, attempt, e.Message);
                await Task.Delay(Backoff(attempt), clock, stop);
                if (e is InconsistentStateException || e.InnerException is InconsistentStateException)
                {
                    await ReadEtag();
                }
            }
        }
    }

    private async Task ReadEtag()
    {
        var ours = state.State;
        try
        {
            await state.ReadStateAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The next write fails again and comes back here, within its attempts.
        }
        state.State = ours;
    }

    /// <summary>Waits longer after each failure, so a busy storage or silo gets room: 0.2 s, 0.4 s, 0.8 s… up to 5 s.</summary>
    private static TimeSpan Backoff(int attempt) => TimeSpan.FromMilliseconds(Math.Min(5000, 200 * (1 << Math.Min(attempt - 1, 5))));

    private void EnsureRunning(CancellationToken stop)
    {
        stop.ThrowIfCancellationRequested();
        if (Job.Status != JobStatus.Running)
        {
            throw new OperationCanceledException(stop);
        }
    }

    private async Task StopReminder()
    {
        if (await this.GetReminder(ResumeReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    private int _nextSilo;

    /// <summary>Silos whose workers answered that they are stopping (<see cref="JobWorkerStoppingException"/>): sent no more chunks.</summary>
    private readonly HashSet<SiloAddress> _stoppingSilos = [];

    /// <summary>
    /// The next chunk's worker: the job's chunks go round the cluster's active silos, each to that silo's own workers.
    /// A chunk whose silo is lost while it runs is sent again (to another silo): a partition's blocks are staged again
    /// under the same ids, import lines again as a replay, so the result is as if it had run once.
    /// </summary>
    private async Task<T> OnNextSilo<T>(Func<IJobWorkerGrain, bool, Task<T>> chunk, CancellationToken stop)
    {
        for (var attempt = 1; ; attempt++)
        {
            var silos = membership.CurrentSnapshot.Members.Values
                .Where(m => m.Status == SiloStatus.Active && !_stoppingSilos.Contains(m.SiloAddress))
                .Select(m => m.SiloAddress)
                .DefaultIfEmpty(GrainContext.Address.SiloAddress!)
                .Order()
                .ToArray();
            var silo = silos[(int)((uint)_nextSilo++ % (uint)silos.Length)];
            try
            {
                return await chunk(GrainFactory.GetGrain<IJobWorkerGrain>(silo.ToParsableString()), attempt > 1);
            }
            catch (Exception e) when (attempt < MaxChunkAttempts && e is SiloUnavailableException or OrleansMessageRejectionException)
            {
                LogChunkLost(logger, JobId, silo, attempt);
            }
            catch (JobWorkerStoppingException) when (attempt < MaxChunkAttempts && !stop.IsCancellationRequested)
            {
                // Membership lists a stopping silo as active until its stop is well on: the job's later chunks (and this
                // one's next attempt) go to the others meanwhile.
                _stoppingSilos.Add(silo);
                LogChunkWorkerStopping(logger, JobId, silo, attempt);
            }
            catch (Exception e) when (attempt < MaxChunkAttempts && IsTransient(e) && !stop.IsCancellationRequested)
            {
                // Storage that was slow or a call that timed out once is no reason to fail the job: the chunk is
                // done again, after a pause, as a replay (its first attempt may have applied some of it).
                LogChunkRetry(logger, JobId, attempt, e.Message);
                await Task.Delay(Backoff(attempt), clock, stop);
            }
        }
    }

    private const int MaxChunkAttempts = 4;

    /// <summary>
    /// One import chunk through <see cref="OnNextSilo"/>. An attempt stopped by its silo's stop reports what it finished
    /// (<see cref="ImportChunkResult.StoppedWith"/>): the next attempt applies only the rest, and a line never started is
    /// applied as a fresh line, its error logged (a replay of the whole chunk counted a delete finding no device as applied,
    /// so the error of a delete of a device that never existed was lost: hostile review, 2026-12-06). An attempt lost
    /// otherwise (its silo died, a timeout) may have applied any line: the next one applies them all as replays.
    /// </summary>
    private Task<ImportChunkResult> ImportOnNextSilo(InputChunk chunk, ImportAttempt attempt, int lines, CancellationToken stop) =>
        OnNextSilo(async (worker, _) =>
        {
            try
            {
                var result = await worker.ImportChunk(new ImportChunk(JobId, chunk.Offset, chunk.Data, attempt.Replay)
                {
                    LinesInFlight = lines,
                    Done = attempt.Done,
                    DoomedLines = state.State.Import.DoomedDeletes.Where(o => o >= chunk.Offset && o < chunk.End).ToArray(),
                    JobStarted = Job.StartTimeUtc,
                });
                if (result.StoppedWith is { } progress)
                {
                    attempt.Done = progress;
                    throw new JobWorkerStoppingException("The chunk's silo is stopping: it handed back what it had finished.");
                }
                return result;
            }
            catch (Exception e) when (e is not JobWorkerStoppingException)
            {
                attempt.Replay = true;
                throw;
            }
        }, stop);

    /// <summary>Failures that pass: storage busy or slow, a call that timed out. Refusals and unreadable input do not.</summary>
    private static bool IsTransient(Exception e) =>
        e is StorageUnavailableException or TimeoutException or SiloUnavailableException or OrleansMessageRejectionException;

    private async Task Export(CancellationToken stop)
    {
        var request = Job.Request;
        var checkpoint = state.State.Export;
        var partitions = indexOptions.Value.Partitions;
        var blob = JobBlobs.Container(request.OutputBlobContainerUri, "output").GetBlockBlobClient(request.OutputBlobName);

        // A storage that scans reads a group of partitions with one query: the group is the unit of work, so its rows are
        // read once, not once per partition of it. Otherwise each partition is read on its own, through the index. A
        // resumed job does the partitions missing from the checkpoint (a group's all, unless a previous version of the
        // job checkpointed some of them).
        var scan = ServiceProvider.GetService<IDevicePartitionScan>();
        var units = scan?.Groups(partitions) ?? Enumerable.Range(0, partitions).Select(p => (IReadOnlyList<int>)[p]).ToArray();
        var todo = new Queue<int[]>(units.Select(u => u.Where(p => !checkpoint.BlocksByPartition.ContainsKey(p)).ToArray()).Where(u => u.Length > 0));
        var running = new List<Task<IReadOnlyList<ExportPartitionResult>>>();
        await using var drain = Drain(running);
        while (todo.Count > 0 || running.Count > 0)
        {
            while (todo.Count > 0 && running.Count < options.Value.ExportParallelism)
            {
                var unit = todo.Dequeue();
                running.Add(scan is null
                    ? ExportPartition(new ExportChunk(JobId, unit[0], request.OutputBlobContainerUri, request.OutputBlobName, request.ExcludeKeysInExport), stop)
                    : ExportGroup(new ExportGroup(JobId, unit, request.OutputBlobContainerUri, request.OutputBlobName, request.ExcludeKeysInExport), stop));
            }
            var done = await Task.WhenAny(running);
            running.Remove(done);
            var results = await done;
            EnsureRunning(stop);
            foreach (var result in results)
            {
                checkpoint.BlocksByPartition[result.Partition] = result.Blocks;
            }
            var devices = results.Sum(r => r.Devices);
            Job = Job with
            {
                DevicesProcessed = Job.DevicesProcessed + devices,
                // 100 only once the blob is committed.
                Progress = JobProgress.Export(checkpoint.BlocksByPartition.Count, partitions),
            };
            await Store(stop);
            CountDevices(devices);
        }

        var blocks = Enumerable.Range(0, partitions)
            .SelectMany(p => Enumerable.Range(0, checkpoint.BlocksByPartition[p]).Select(s => JobBlobs.ExportBlockId(p, s)))
            .ToArray();
        EnsureRunning(stop);
        await JobBlobs.Call($"commit the export blob '{request.OutputBlobName}'", () => blob.CommitBlockListAsync(blocks, cancellationToken: stop));
    }

    private async Task<IReadOnlyList<ExportPartitionResult>> ExportPartition(ExportChunk chunk, CancellationToken stop)
    {
        var result = await OnNextSilo((worker, _) => worker.ExportPartition(chunk), stop);
        return [new ExportPartitionResult(chunk.Partition, result.Blocks, result.Devices)];
    }

    private async Task<IReadOnlyList<ExportPartitionResult>> ExportGroup(ExportGroup group, CancellationToken stop) =>
        (await OnNextSilo((worker, _) => worker.ExportGroup(group), stop)).Partitions;

    private async Task Import(CancellationToken stop)
    {
        var request = Job.Request;
        var checkpoint = state.State.Import;
        var input = JobBlobs.Container(request.InputBlobContainerUri ?? "", "input").GetBlobClient(request.InputBlobName);
        var errorLog = JobBlobs.Container(request.OutputBlobContainerUri, "output").GetBlockBlobClient(JobBlobNames.ImportErrors);

        var properties = (await JobBlobs.Call($"read the input blob '{request.InputBlobName}'", () => input.GetPropertiesAsync(cancellationToken: stop))).Value;
        var length = properties.ContentLength;
        if (checkpoint.InputETag is { } first && first != properties.ETag.ToString())
        {
            throw new JobStorageException(JobFailureReason.InputChanged(request.InputBlobName));
        }
        if (!checkpoint.ErrorLogCreated || checkpoint.InputETag is null)
        {
            if (!checkpoint.ErrorLogCreated)
            {
                // An empty log means no errors; writing it first proves the output writable before any line is applied.
                await JobBlobs.Call($"write '{JobBlobNames.ImportErrors}' to the output container", () =>
                    errorLog.UploadAsync(new MemoryStream(), new BlobUploadOptions(), stop));
                checkpoint.ErrorLogCreated = true;
            }
            checkpoint.InputETag = properties.ETag.ToString();
            await Store(stop);
        }
        // Every read is of the version recorded: a blob replaced since answers 412, which fails the job (InputChanged).
        var sameVersion = new BlobRequestConditions { IfMatch = new Azure.ETag(checkpoint.InputETag) };

        var replayTo = checkpoint.DispatchedTo;
        await using var stream = await JobBlobs.Call($"read the input blob '{request.InputBlobName}'", () =>
            input.OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { Position = checkpoint.Offset, BufferSize = 4 << 20, Conditions = sameVersion }, stop));
        var chunker = new ImportChunker(stream, checkpoint.Offset, options.Value.ImportChunkLines, options.Value.MaxLineBytes,
            $"The input blob '{request.InputBlobName}'");
        var inFlight = new Queue<InFlightChunk>();
        // The ids the file's lines before each chunk name (as 64-bit hashes: ~20 B each while the job runs): a create line
        // repeating one is read before its chunk is first sent (DoomedLines). A resumed run starts with those of the lines
        // before its checkpoint, which an earlier run applied.
        var named = await NamedBefore(input, checkpoint.Offset, sameVersion, stop);
        var pace = new ImportPace(options.Value.ImportChunksInFlight, options.Value.ImportLinesInFlight);
        var handedBack = checkpoint.HandedBack.ToDictionary(h => h.Offset);
        // A chunk whose dispatch is being stored: not sent yet, whatever storage says of how far chunks went.
        (InputChunk Chunk, ImportAttempt Attempt)? sending = null;
        var handingBack = false;
        try
        {
            while (true)
            {
                var chunk = await JobBlobs.Call($"read the input blob '{request.InputBlobName}'", () => chunker.Next(stop));
                if (chunk is null)
                {
                    break;
                }
                EnsureRunning(stop);
                // A device's lines apply in file order. A chunk applies its lines at once, and chunks in flight together end
                // in any order, so a chunk naming a device that an earlier chunk still in flight names waits for it: a file
                // that creates devices and deletes them a chunk later leaves none (before, most of them, 404001 logged).
                var ids = DeviceIds(chunk);
                var repeated = ids.Where(id => named.Contains(IdHash(id))).ToHashSet(StringComparer.Ordinal);
                while (inFlight.Any(c => !c.Result.IsCompleted && c.Ids.Overlaps(ids)))
                {
                    await Advance(inFlight, pace, errorLog, length, stop);
                }
                EnsureRunning(stop);
                // Past the checkpoint a chunk is a replay (an attempt may have applied any of its lines), unless the job's
                // previous run handed back what it came to.
                var attempt = ImportAttempt.Resuming(handedBack.GetValueOrDefault(chunk.Offset) is { } h && h.End == chunk.End ? h : null,
                    chunk.Offset < replayTo);
                sending = (chunk, attempt);
                if (chunk.End > checkpoint.DispatchedTo)
                {
                    if (chunk.Offset >= checkpoint.DispatchedTo)
                    {
                        checkpoint.DoomedDeletes.AddRange(await DoomedLines(chunk, repeated, stop));
                    }
                    checkpoint.DispatchedTo = chunk.End;
                    await Store(stop);
                }
                named.UnionWith(ids.Select(IdHash));
                var lines = pace.Lines;
                var result = chunk.Data.Length == 0
                    ? Task.FromResult(new ImportChunkResult(0, []))
                    : attempt.Completed is { } completed ? Task.FromResult(completed) : ImportOnNextSilo(chunk, attempt, lines, stop);
                inFlight.Enqueue((chunk, result, ids, attempt));
                sending = null;
                while (inFlight.Count >= pace.Window)
                {
                    await Advance(inFlight, pace, errorLog, length, stop);
                }
            }
            while (inFlight.Count > 0)
            {
                await Advance(inFlight, pace, errorLog, length, stop);
            }
        }
        catch (Exception) when (stop.IsCancellationRequested && (_deactivating || lifetime.ApplicationStopping.IsCancellationRequested))
        {
            // The job's own silo is stopping (or this activation leaving): the job resumes elsewhere from what is stored.
            handingBack = true;
            await HandBack(checkpoint, inFlight, sending);
            throw;
        }
        finally
        {
            if (!handingBack)
            {
                await Settle(inFlight.Select(c => c.Result));
            }
        }

        var errorBlocks = Enumerable.Range(0, checkpoint.ErrorBlocks).Select(JobBlobs.ErrorBlockId).ToArray();
        EnsureRunning(stop);
        await JobBlobs.Call($"commit '{JobBlobNames.ImportErrors}'", () => errorLog.CommitBlockListAsync(errorBlocks, cancellationToken: stop));
    }

    /// <summary>
    /// The offsets of a chunk's lines that fail as storage stands when the chunk is first sent, where a replay would take
    /// the failure for the first attempt's own success: a delete whose device is not stored, and an ETag-conditional
    /// write (<c>updateIfMatchETag</c>, <c>createOrUpdateIfMatchETag</c>, <c>deleteIfMatchETag</c>) whose eTag does not
    /// match the stored device's; a <c>create</c> of a device an earlier line of the job named (<paramref name="repeated"/>)
    /// that is stored (an earlier create of the same file made it: its replay found it "created since the job started"
    /// and counted as applied, hostile review, 2026-12-06). Read before the chunk is first sent and stored with its dispatch: after a crash the
    /// chunk is applied again as a replay, where these would count as applied (a 20,000-line import killed at 50 % left
    /// 38 such 404001 lines out of importErrors.log: hostile review, 2026-12-06; a stale eTag's 412001 went the same way
    /// whenever the device already was as the line asked). The chunks in flight before it that name the same devices have
    /// ended (the job waits for them), so what is read is what the line meets, unless another client writes the device
    /// meanwhile. Storage is read directly (acknowledged writes are stored), so no device activates for an id that does
    /// not exist. A chunk without the word "delete" nor "ifmatchetag" in any letter case, nor a JSON escape, has no such
    /// line and is not read.
    /// </summary>
    private async Task<IEnumerable<long>> DoomedLines(InputChunk chunk, IReadOnlySet<string> repeated, CancellationToken stop)
    {
        var lower = new byte[chunk.Data.Length];
        System.Text.Ascii.ToLower(chunk.Data, lower, out _);
        if (repeated.Count == 0 && lower.AsSpan().IndexOf("delete"u8) < 0 && lower.AsSpan().IndexOf("ifmatchetag"u8) < 0
            && chunk.Data.AsSpan().IndexOf("\\u"u8) < 0)
        {
            return [];
        }
        var targets = new List<(long Offset, BulkOperation Operation)>();
        foreach (var (offset, start, length) in ImportLines.Split(chunk.Data, chunk.Offset))
        {
            var line = chunk.Data.AsSpan(start, length).TrimStart(" \t"u8);
            if (!line.IsEmpty && line[0] == (byte)'{' && format.Parse(line).Operation is { } operation && (operation.Mode is ImportMode.Delete
                or ImportMode.DeleteIfMatchETag or ImportMode.UpdateIfMatchETag or ImportMode.CreateOrUpdateIfMatchETag
                || operation.Mode == ImportMode.Create && repeated.Contains(operation.Device.DeviceId)))
            {
                targets.Add((offset, operation));
            }
        }
        // Lines whose outcome does not depend on the device are not read (an all-"*" import of updates reads nothing).
        var doomed = targets.Where(t => FailsOnAny(t.Operation) == true).Select(t => t.Offset).ToArray();
        targets.RemoveAll(t => FailsOnAny(t.Operation) is not null);
        // Read again after a failure, as the job's own state is written again: Azurite busy with a three-silo import's start
        // let one read time out, and the chunk's deletes of never-created ids went unlogged after a kill (a test run).
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var stored = await Task.WhenAll(targets.Select(t =>
                    DeviceStorage.ReadIdentityAsync(registry, GrainFactory.GetGrain<IDeviceGrain>(t.Operation.Device.DeviceId).GetGrainId())));
                return targets.Where((t, i) => FailsOn(t.Operation, stored[i])).Select(t => t.Offset).Concat(doomed).Order().ToArray();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (attempt == MaxStoreAttempts)
                {
                    // Only a crash's replay of this chunk is at stake: its lines are then taken as before.
                    LogDoomedUnread(logger, JobId, chunk.Offset, attempt, e.Message);
                    return doomed;
                }
                await Task.Delay(Backoff(attempt), clock, stop);
            }
        }
    }

    /// <summary>
    /// The hashes of the ids the input's lines before <paramref name="to"/> name: what an earlier run of the job applied
    /// before its checkpoint. Without them a resumed run took a <c>create</c> repeating such a line for a first one, did
    /// not read it before sending its chunk, and a second crash's replay of that chunk found the device "created since the
    /// job started" and counted the line as applied, its 409001 lost. Costs a read of the input up to the checkpoint, once
    /// per resume (the lines are parsed for their ids only).
    /// </summary>
    private async Task<HashSet<ulong>> NamedBefore(Azure.Storage.Blobs.BlobClient input, long to, BlobRequestConditions sameVersion, CancellationToken stop)
    {
        var named = new HashSet<ulong>();
        if (to == 0)
        {
            return named;
        }
        var name = Job.Request.InputBlobName;
        await using var stream = await JobBlobs.Call($"read the input blob '{name}'", () =>
            input.OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { Position = 0, BufferSize = 4 << 20, Conditions = sameVersion }, stop));
        var chunker = new ImportChunker(stream, 0, options.Value.ImportChunkLines, options.Value.MaxLineBytes, $"The input blob '{name}'");
        var started = clock.GetTimestamp();
        while (await JobBlobs.Call($"read the input blob '{name}'", () => chunker.Next(stop)) is { } chunk && chunk.Offset < to)
        {
            named.UnionWith(DeviceIds(chunk).Select(IdHash));
        }
        LogNamedBefore(logger, JobId, to, named.Count, (long)clock.GetElapsedTime(started).TotalMilliseconds);
        return named;
    }

    /// <summary>A device id's 64-bit hash, for <c>named</c> in <see cref="Import"/> (within this process only).</summary>
    private static ulong IdHash(string deviceId) =>
        (ulong)DevicePartitioner.Fnv1a(deviceId) << 32 | (uint)StringComparer.Ordinal.GetHashCode(deviceId);

    /// <summary>
    /// Whether an ETag-conditional line fails whatever is stored (null: that depends on the device): an update or
    /// createOrUpdate with eTag <c>*</c> never fails on its eTag, an update or delete without an eTag always does.
    /// </summary>
    private static bool? FailsOnAny(BulkOperation operation) => operation.Mode switch
    {
        ImportMode.UpdateIfMatchETag or ImportMode.CreateOrUpdateIfMatchETag when operation.ETag == "*" => false,
        ImportMode.UpdateIfMatchETag or ImportMode.DeleteIfMatchETag when string.IsNullOrEmpty(operation.ETag) => true,
        _ => null,
    };

    /// <summary>Whether a delete or ETag-conditional line fails on the device as stored (null: none).</summary>
    private static bool FailsOn(BulkOperation operation, DeviceIdentity? stored) => operation.Mode switch
    {
        ImportMode.Create => stored is not null,
        ImportMode.Delete => stored is null,
        ImportMode.DeleteIfMatchETag => stored is null || !Registry.BulkOperationApplier.Matches(operation, stored.ETag),
        // Absent, an update fails as 404001 on any attempt (a replay finding no device logs it), and createOrUpdate creates.
        _ => stored is not null && !Registry.BulkOperationApplier.Matches(operation, stored.ETag),
    };

    /// <summary>
    /// The ids a chunk's lines name, as its worker will read them (lines starting with <c>{</c> after spaces and tabs);
    /// a line naming more than one (an <c>id</c> member twice) counts each.
    /// </summary>
    private HashSet<string> DeviceIds(InputChunk chunk)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (_, start, length) in ImportLines.Split(chunk.Data, chunk.Offset))
        {
            var line = chunk.Data.AsSpan(start, length).TrimStart(" \t"u8);
            if (!line.IsEmpty && line[0] == (byte)'{')
            {
                format.AddDeviceIds(line, ids);
            }
        }
        return ids;
    }

    /// <summary>
    /// On the way out of the loop (cancelled, failed, stopping) waits for the chunks still in flight, which the workers
    /// stop promptly: the job ends only once none of its chunks still applies anything.
    /// </summary>
    private static AsyncDisposable Drain<T>(IEnumerable<Task<T>> inFlight) => new(() => Settle(inFlight));

    private static async Task Settle<T>(IEnumerable<Task<T>> inFlight)
    {
        try
        {
            await Task.WhenAll(inFlight.ToArray());
        }
        catch (Exception)
        {
            // Their outcome no longer matters: only that they stopped.
        }
    }

    /// <summary>
    /// The job's loop stops because its own silo does (SIGTERM on a single host): the chunks in flight are given
    /// <see cref="JobOptions.HandBackWait"/> to end (this silo's stop ends its own chunks before their next line, each
    /// reporting which lines it finished), and what each came to is stored with the checkpoint. The resume sends each such
    /// chunk again with it, so a finished line is not applied twice and a line never started is applied as a fresh line:
    /// a replay of the whole chunk counted a delete of a device that never existed as applied, and its 404001 was lost
    /// (hostile review, 2026-12-06). A chunk that says nothing in time stays a replay, as after a crash.
    /// </summary>
    private async Task HandBack(ImportCheckpoint checkpoint, IReadOnlyCollection<InFlightChunk> inFlight, (InputChunk Chunk, ImportAttempt Attempt)? sending)
    {
        try
        {
            await Settle(inFlight.Select(c => c.Result)).WaitAsync(options.Value.HandBackWait, clock);
        }
        catch (TimeoutException)
        {
            // Those still running are handed back as replays.
        }
        var records = inFlight.Select(c => c.Attempt.HandBack(c.Chunk, c.Result))
            .Append(sending is { } s ? s.Attempt.HandBack(s.Chunk, null) : null)
            .OfType<ImportHandBack>()
            .ToList();
        var settled = inFlight.Select(c => c.Chunk.Offset).Append(sending?.Chunk.Offset ?? -1).ToHashSet();
        // Records of the previous run whose chunks this run did not reach stand.
        records.AddRange(checkpoint.HandedBack.Where(h => !settled.Contains(h.Offset)));
        checkpoint.HandedBack = records.Where(h => h.Offset >= checkpoint.Offset).OrderBy(h => h.Offset).ToList();
        try
        {
            await state.WriteStateAsync();
            LogHandedBack(logger, JobId, checkpoint.HandedBack.Count);
        }
        catch (Exception e)
        {
            // The resume replays those chunks whole, as after a crash.
            LogHandBackNotStored(logger, e, JobId);
        }
    }

    /// <summary>Runs an action when disposed.</summary>
    private sealed class AsyncDisposable(Func<Task> dispose) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await dispose();
    }

    /// <summary>
    /// Fails the job. The errors of the lines applied so far are committed first (best effort), so a failed import's
    /// importErrors.log still lists every line of its applied prefix that was not applied, storage failures included.
    /// </summary>
    private async Task Fail(string reason)
    {
        if (Job.Request.Type == JobType.Import && state.State.Import is { ErrorLogCreated: true } checkpoint)
        {
            try
            {
                var errorLog = JobBlobs.Container(Job.Request.OutputBlobContainerUri, "output").GetBlockBlobClient(JobBlobNames.ImportErrors);
                var errorBlocks = Enumerable.Range(0, checkpoint.ErrorBlocks).Select(JobBlobs.ErrorBlockId).ToArray();
                await JobBlobs.Call($"commit '{JobBlobNames.ImportErrors}'", () => errorLog.CommitBlockListAsync(errorBlocks));
            }
            catch (JobStorageException e)
            {
                LogErrorLogLost(logger, JobId, e.Message);
            }
        }
        await End(JobStatus.Failed, reason);
    }

    /// <summary>
    /// Waits for a chunk in flight to end. The first one bounds the checkpoint: it and every ended chunk behind it are
    /// checkpointed in order. A later chunk that ends first still moves the progress: with chunks of 16,000 lines (1,024
    /// storage groups) the first ends last about as often as not, and a progress kept to the checkpoint sat at 0 for
    /// most of an import under ~100,000 lines.
    /// </summary>
    private async Task Advance(Queue<InFlightChunk> inFlight, ImportPace pace, BlockBlobClient errorLog, long length, CancellationToken stop)
    {
        if (!inFlight.Peek().Result.IsCompleted)
        {
            // Only chunks still running: one that ended earlier (and moved the progress then) must not end the wait at once.
            await Task.WhenAny(inFlight.Where(c => !c.Result.IsCompleted).Select(c => c.Result));
        }
        if (!inFlight.Peek().Result.IsCompleted)
        {
            var progress = ImportProgress(state.State.Import.Offset, inFlight, length);
            if (progress > Job.Progress)
            {
                EnsureRunning(stop);
                Job = Job with { Progress = progress };
                await Store(stop);
            }
            return;
        }
        while (inFlight.TryPeek(out var first) && first.Result.IsCompleted)
        {
            // Out of the queue only once checkpointed: a chunk whose checkpoint a stop cut short is still handed back.
            var done = await first.Result;
            await Checkpoint(first.Chunk, done, errorLog, length, stop, inFlight.Skip(1));
            inFlight.Dequeue();
            pace.Ended(done.Unanswered);
        }
    }

    /// <summary>The applied prefix plus the chunks beyond it that have ended, over the input's length; never below what was shown.</summary>
    private int ImportProgress(long prefix, IEnumerable<InFlightChunk> inFlight, long length) =>
        Math.Max(Job.Progress, JobProgress.Import(
            prefix + inFlight.Where(c => c.Result.IsCompletedSuccessfully).Sum(c => c.Chunk.End - c.Chunk.Offset), length));

    /// <summary>A chunk of the applied prefix: its errors are staged, then the offset moves past it, in that order.</summary>
    private async Task Checkpoint(InputChunk chunk, ImportChunkResult result, BlockBlobClient errorLog, long length, CancellationToken stop,
        IEnumerable<InFlightChunk> ahead)
    {
        EnsureRunning(stop);
        var checkpoint = state.State.Import;
        var errors = chunk.Errors.Concat(result.Errors).ToArray();
        if (errors.Length > 0)
        {
            var buffer = new ArrayBufferWriter<byte>();
            foreach (var error in errors)
            {
                format.WriteError(error, buffer);
                buffer.Write("\n"u8);
            }
            var id = JobBlobs.ErrorBlockId(checkpoint.ErrorBlocks);
            await JobBlobs.Call($"write '{JobBlobNames.ImportErrors}'", () =>
                errorLog.StageBlockAsync(id, BinaryData.FromBytes(buffer.WrittenMemory).ToStream(), cancellationToken: stop));
            checkpoint.ErrorBlocks++;
        }
        checkpoint.Offset = chunk.End;
        checkpoint.HandedBack.RemoveAll(h => h.Offset < chunk.End);
        checkpoint.DoomedDeletes.RemoveAll(o => o < chunk.End);
        Job = Job with
        {
            DevicesProcessed = Job.DevicesProcessed + result.Applied,
            ErrorCount = Job.ErrorCount + errors.Length,
            Progress = ImportProgress(chunk.End, ahead, length),
        };
        await Store(stop);
        CountDevices(result.Applied);
    }

    /// <summary>Counted once the checkpoint is stored: a job resumed after a crash replays from it and counts nothing twice.</summary>
    private void CountDevices(long devices) =>
        RegistryMetrics.JobDevices.Add(devices, new KeyValuePair<string, object?>(RegistryMetrics.Tags.JobType, TypeTag));

    private void CountEnded() =>
        RegistryMetrics.JobsEnded.Add(1,
            new KeyValuePair<string, object?>(RegistryMetrics.Tags.JobType, TypeTag),
            new KeyValuePair<string, object?>(RegistryMetrics.Tags.JobStatus, Job.Status switch
            {
                JobStatus.Completed => "completed",
                JobStatus.Failed => "failed",
                JobStatus.Cancelled => "cancelled",
                _ => "unknown",
            }));

    private string TypeTag => Job.Request.Type == JobType.Export ? "export" : "import";

    [LoggerMessage(EventId = 2300, Level = LogLevel.Information, Message = "Job {JobId} ({Type}) is running")]
    private static partial void LogRunning(ILogger logger, string jobId, JobType type);

    [LoggerMessage(EventId = 2301, Level = LogLevel.Information, Message = "Job {JobId} ended {Status}: {Reason}")]
    private static partial void LogEnded(ILogger logger, string jobId, JobStatus status, string? reason);

    [LoggerMessage(EventId = 2302, Level = LogLevel.Error, Message = "Job {JobId} failed unexpectedly")]
    private static partial void LogCrashed(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(EventId = 2304, Level = LogLevel.Warning, Message = "Job {JobId} could not use its blob storage")]
    private static partial void LogStorageFailed(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(EventId = 2308, Level = LogLevel.Warning, Message = "Job {JobId} could not store its end ({Status}); it is not reported ended, and the next activation reads what storage holds")]
    private static partial void LogEndNotStored(ILogger logger, Exception exception, string jobId, JobStatus status);

    [LoggerMessage(EventId = 2305, Level = LogLevel.Warning, Message = "Job {JobId} could not store its state (attempt {Attempt}): {Reason}; writing it again")]
    private static partial void LogStoreRetry(ILogger logger, string jobId, int attempt, string reason);

    [LoggerMessage(EventId = 2306, Level = LogLevel.Warning, Message = "Job {JobId} had a chunk fail transiently (attempt {Attempt}): {Reason}; sending it again")]
    private static partial void LogChunkRetry(ILogger logger, string jobId, int attempt, string reason);

    [LoggerMessage(EventId = 2307, Level = LogLevel.Warning, Message = "Job {JobId} failed and could not commit its error log: {Reason}")]
    private static partial void LogErrorLogLost(ILogger logger, string jobId, string reason);

    [LoggerMessage(EventId = 2309, Level = LogLevel.Warning, Message = "Job {JobId} has ended but its resume reminder could not be removed; its next tick removes it")]
    private static partial void LogReminderLeft(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(EventId = 2303, Level = LogLevel.Warning, Message = "Job {JobId} lost a chunk with silo {Silo} (attempt {Attempt}); sending it again")]
    private static partial void LogChunkLost(ILogger logger, string jobId, SiloAddress silo, int attempt);

    [LoggerMessage(EventId = 2313, Level = LogLevel.Information, Message = "Job {JobId} stops with its silo; {Chunks} chunk(s) past its checkpoint handed back for its resume")]
    private static partial void LogHandedBack(ILogger logger, string jobId, int chunks);

    [LoggerMessage(EventId = 2314, Level = LogLevel.Warning, Message = "Job {JobId} stops with its silo and could not store what its chunks in flight came to; its resume replays them")]
    private static partial void LogHandBackNotStored(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(EventId = 2319, Level = LogLevel.Information, Message = "Job {JobId} resumes at byte {Offset} of its input: read the {Ids} device ids the lines before it name in {Milliseconds} ms")]
    private static partial void LogNamedBefore(ILogger logger, string jobId, long offset, int ids, long milliseconds);

    [LoggerMessage(EventId = 2315, Level = LogLevel.Warning, Message = "Job {JobId} could not read which deletes of its chunk at byte {Offset} find no device in {Attempts} attempts ({Reason}); a replay of that chunk after a crash counts such a delete as applied")]
    private static partial void LogDoomedUnread(ILogger logger, string jobId, long offset, int attempts, string reason);

    [LoggerMessage(EventId = 2312, Level = LogLevel.Information, Message = "Job {JobId}: silo {Silo} is stopping and handed its chunk back (attempt {Attempt}); sending it to another silo")]
    private static partial void LogChunkWorkerStopping(ILogger logger, string jobId, SiloAddress silo, int attempt);
}

/// <summary>
/// One import chunk's attempts in a job's run: what attempts stopped by their silos' stops finished (<see cref="Done"/>),
/// and whether the lines they did not name may have been applied (<see cref="Replay"/>: an attempt was lost otherwise).
/// </summary>
internal sealed class ImportAttempt
{
    public ImportChunkProgress? Done { get; set; }

    public bool Replay { get; set; }

    /// <summary>The whole result, when the job's previous run handed the chunk back ended: nothing is sent again.</summary>
    public ImportChunkResult? Completed { get; private init; }

    /// <summary>A chunk's first attempt in this run: from what the previous run handed back, else a replay past the checkpoint.</summary>
    public static ImportAttempt Resuming(ImportHandBack? handedBack, bool pastCheckpoint) => handedBack is null
        ? new ImportAttempt { Replay = pastCheckpoint }
        : new ImportAttempt { Done = handedBack.Done, Replay = handedBack.Replay, Completed = handedBack.Completed };

    /// <summary>
    /// What to store for the chunk as the job stops: its result if it ended; what its stopped attempts finished, if any (a
    /// line not named then is a replay if an attempt may still be applying it, <paramref name="result"/> not ended); else
    /// nothing (past the checkpoint, a replay). <paramref name="result"/> is null for a chunk never sent.
    /// </summary>
    public ImportHandBack? HandBack(InputChunk chunk, Task<ImportChunkResult>? result)
    {
        if (result is { IsCompletedSuccessfully: true } && result.Result.StoppedWith is null)
        {
            return new ImportHandBack(chunk.Offset, chunk.End, result.Result, null, false);
        }
        var replay = Replay || result is { IsCompleted: false };
        return result is null && !replay
            ? new ImportHandBack(chunk.Offset, chunk.End, null, Done ?? new ImportChunkProgress([], [], []), false)
            : Done is null ? null : new ImportHandBack(chunk.Offset, chunk.End, null, Done, replay);
    }
}
