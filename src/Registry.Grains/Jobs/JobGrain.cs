using System.Buffers;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Registry.Abstractions;

namespace Registry.Grains.Jobs;

/// <summary>
/// One import or export job: its durable state and checkpoint, and the loop that hands its chunks to
/// <see cref="IBulkJobGrain"/> workers. The loop runs in the background of this activation; a reminder (while the job
/// has not ended) re-activates the grain after its silo failed, and the loop resumes from the checkpoint.
/// </summary>
public sealed partial class JobGrain(
    [PersistentState("job", StorageNames.Jobs)] IPersistentState<JobState> state,
    IOptions<JobOptions> options,
    IOptions<RegistryIndexOptions> indexOptions,
    IDeviceLineFormat format,
    TimeProvider clock,
    ILogger<JobGrain> logger) : Grain, IJobGrain, IRemindable
{
    private const string ResumeReminder = "resume";

    private Task? _run;
    private CancellationTokenSource? _stop;

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
        await state.WriteStateAsync();
        await this.RegisterOrUpdateReminder(ResumeReminder, options.Value.ReminderPeriod, options.Value.ReminderPeriod);
        var enqueued = Job;
        Launch();
        return enqueued;
    }

    public Task<JobProperties?> Get() => Task.FromResult(state.State.Job);

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
        _stop?.Cancel();
        Job = Job with { Status = JobStatus.Cancelled, EndTimeUtc = Now };
        await state.WriteStateAsync();
        LogEnded(logger, JobId, Job.Status, null);
        await StopReminder();
        return Job;
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

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // The job is not over: stop the loop without marking it; the reminder resumes it from its checkpoint.
        _stop?.Cancel();
        return Task.CompletedTask;
    }

    /// <summary>IoT Hub's 404 for a job id it does not know (or no longer keeps).</summary>
    internal static RegistryException JobNotFound(string jobId) => new(RegistryErrorCode.JobNotFound, $"Job {jobId} not found");

    private void Launch()
    {
        if (_run is { IsCompleted: false })
        {
            return;
        }
        _stop = new CancellationTokenSource();
        _run = Run(_stop.Token);
    }

    private async Task Run(CancellationToken stop)
    {
        try
        {
            Job = Job with { Status = JobStatus.Running, StartTimeUtc = Job.StartTimeUtc ?? Now };
            await state.WriteStateAsync();
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
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Cancelled (the state says so already) or deactivating (the reminder resumes the job).
        }
        catch (JobStorageException e) when (!stop.IsCancellationRequested)
        {
            await End(JobStatus.Failed, e.Message);
        }
        catch (Exception e) when (!stop.IsCancellationRequested)
        {
            LogCrashed(logger, e, JobId);
            await End(JobStatus.Failed, "The registry failed while running the job: " + e.Message);
        }
    }

    private async Task End(JobStatus status, string? reason)
    {
        Job = Job with { Status = status, Progress = status == JobStatus.Completed ? 100 : Job.Progress, EndTimeUtc = Now, FailureReason = reason };
        await state.WriteStateAsync();
        LogEnded(logger, JobId, status, reason);
        await StopReminder();
    }

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

    private IBulkJobGrain Worker => GrainFactory.GetGrain<IBulkJobGrain>(0);

    private async Task Export(CancellationToken stop)
    {
        var request = Job.Request;
        var checkpoint = state.State.Export;
        var partitions = indexOptions.Value.Partitions;
        var blob = JobBlobs.Container(request.OutputBlobContainerUri, "output").GetBlockBlobClient(request.OutputBlobName);

        var todo = new Queue<int>(Enumerable.Range(0, partitions).Where(p => !checkpoint.BlocksByPartition.ContainsKey(p)));
        var running = new Dictionary<Task<ExportChunkResult>, int>();
        while (todo.Count > 0 || running.Count > 0)
        {
            while (todo.Count > 0 && running.Count < options.Value.ExportParallelism)
            {
                var partition = todo.Dequeue();
                running.Add(Worker.ExportPartition(new ExportChunk(JobId, partition, request.OutputBlobContainerUri, request.OutputBlobName, request.ExcludeKeysInExport)), partition);
            }
            var done = await Task.WhenAny(running.Keys);
            var finished = running[done];
            running.Remove(done);
            var result = await done;
            EnsureRunning(stop);
            checkpoint.BlocksByPartition[finished] = result.Blocks;
            Job = Job with
            {
                DevicesProcessed = Job.DevicesProcessed + result.Devices,
                // 100 only once the blob is committed.
                Progress = Math.Min(99, checkpoint.BlocksByPartition.Count * 100 / partitions),
            };
            await state.WriteStateAsync();
        }

        var blocks = Enumerable.Range(0, partitions)
            .SelectMany(p => Enumerable.Range(0, checkpoint.BlocksByPartition[p]).Select(s => JobBlobs.ExportBlockId(p, s)))
            .ToArray();
        EnsureRunning(stop);
        await JobBlobs.Call($"commit the export blob '{request.OutputBlobName}'", () => blob.CommitBlockListAsync(blocks, cancellationToken: stop));
    }

    private async Task Import(CancellationToken stop)
    {
        var request = Job.Request;
        var checkpoint = state.State.Import;
        var input = JobBlobs.Container(request.InputBlobContainerUri ?? "", "input").GetBlobClient(request.InputBlobName);
        var errorLog = JobBlobs.Container(request.OutputBlobContainerUri, "output").GetBlockBlobClient(JobBlobNames.ImportErrors);

        var length = (await JobBlobs.Call($"read the input blob '{request.InputBlobName}'", () => input.GetPropertiesAsync(cancellationToken: stop))).Value.ContentLength;
        if (!checkpoint.ErrorLogCreated)
        {
            // An empty log means no errors; writing it first proves the output writable before any line is applied.
            await JobBlobs.Call($"write '{JobBlobNames.ImportErrors}' to the output container", () =>
                errorLog.UploadAsync(new MemoryStream(), new BlobUploadOptions(), stop));
            checkpoint.ErrorLogCreated = true;
            await state.WriteStateAsync();
        }

        var replayTo = checkpoint.DispatchedTo;
        await using var stream = await JobBlobs.Call($"read the input blob '{request.InputBlobName}'", () =>
            input.OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { Position = checkpoint.Offset, BufferSize = 4 << 20 }, stop));
        var chunker = new ImportChunker(stream, checkpoint.Offset, options.Value.ImportChunkLines, options.Value.MaxLineBytes);
        var inFlight = new Queue<(InputChunk Chunk, Task<ImportChunkResult> Result)>();
        while (true)
        {
            var chunk = await JobBlobs.Call($"read the input blob '{request.InputBlobName}'", () => chunker.Next(stop));
            if (chunk is null)
            {
                break;
            }
            EnsureRunning(stop);
            if (chunk.End > checkpoint.DispatchedTo)
            {
                checkpoint.DispatchedTo = chunk.End;
                await state.WriteStateAsync();
            }
            var result = chunk.Data.Length == 0
                ? Task.FromResult(new ImportChunkResult(0, []))
                : ApplyChunk(chunk, chunk.Offset < replayTo, stop);
            inFlight.Enqueue((chunk, result));
            if (inFlight.Count >= options.Value.ImportChunksInFlight)
            {
                var (first, firstResult) = inFlight.Dequeue();
                await Checkpoint(first, await firstResult, errorLog, length, stop);
            }
        }
        while (inFlight.TryDequeue(out var rest))
        {
            await Checkpoint(rest.Chunk, await rest.Result, errorLog, length, stop);
        }

        var errorBlocks = Enumerable.Range(0, checkpoint.ErrorBlocks).Select(JobBlobs.ErrorBlockId).ToArray();
        EnsureRunning(stop);
        await JobBlobs.Call($"commit '{JobBlobNames.ImportErrors}'", () => errorLog.CommitBlockListAsync(errorBlocks, cancellationToken: stop));
    }

    /// <summary>
    /// Applies a chunk through a worker. A worker that does not answer in time (Orleans' response timeout: lines slowed by a
    /// failover or a loaded storage) is asked again with the chunk as a replay, since some of its lines may have landed;
    /// failing the whole job on it lost a running import to a transient delay.
    /// </summary>
    private async Task<ImportChunkResult> ApplyChunk(InputChunk chunk, bool replay, CancellationToken stop)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await Worker.ImportChunk(new ImportChunk(JobId, chunk.Offset, chunk.Data, replay));
            }
            catch (Exception e) when (e is TimeoutException or OrleansMessageRejectionException && attempt < options.Value.ChunkAttempts && !stop.IsCancellationRequested)
            {
                LogChunkAgain(logger, e, JobId, chunk.Offset);
                replay = true;
            }
        }
    }

    [LoggerMessage(EventId = 2303, Level = LogLevel.Warning, Message = "Job {JobId}: the chunk at byte {Offset} was not answered in time; applying it again")]
    private static partial void LogChunkAgain(ILogger logger, Exception exception, string jobId, long offset);

    /// <summary>A chunk of the applied prefix: its errors are staged, then the offset moves past it, in that order.</summary>
    private async Task Checkpoint(InputChunk chunk, ImportChunkResult result, BlockBlobClient errorLog, long length, CancellationToken stop)
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
        Job = Job with
        {
            DevicesProcessed = Job.DevicesProcessed + result.Applied,
            ErrorCount = Job.ErrorCount + errors.Length,
            Progress = length == 0 ? 99 : (int)Math.Min(99, chunk.End * 100 / length),
        };
        await state.WriteStateAsync();
    }

    [LoggerMessage(EventId = 2300, Level = LogLevel.Information, Message = "Job {JobId} ({Type}) is running")]
    private static partial void LogRunning(ILogger logger, string jobId, JobType type);

    [LoggerMessage(EventId = 2301, Level = LogLevel.Information, Message = "Job {JobId} ended {Status}: {Reason}")]
    private static partial void LogEnded(ILogger logger, string jobId, JobStatus status, string? reason);

    [LoggerMessage(EventId = 2302, Level = LogLevel.Error, Message = "Job {JobId} failed unexpectedly")]
    private static partial void LogCrashed(ILogger logger, Exception exception, string jobId);
}
