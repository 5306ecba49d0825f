using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using Registry.Abstractions;

namespace Registry.Grains.Jobs;

/// <summary>The ids of the hub's jobs, in creation order; an ended job's end time decides when it leaves the history.</summary>
[GenerateSerializer, Alias("registry.JobListState")]
public sealed class JobListState
{
    [Id(0)] public List<JobEntry> Jobs { get; set; } = [];
}

/// <summary>One job of the list; <see cref="EndTimeUtc"/> is set once the job was seen ended.</summary>
[GenerateSerializer, Alias("registry.JobEntry")]
public sealed record JobEntry([property: Id(0)] string JobId, [property: Id(1)] DateTime? EndTimeUtc);

/// <summary>
/// The one place that counts active jobs, so the limit holds across silos. It asks each job it has not yet seen end
/// rather than relying on being told, so a job that ended on a silo that then died still frees its slot.
/// </summary>
public sealed partial class JobRegistryGrain(
    [PersistentState("jobs", StorageNames.Jobs)] IPersistentState<JobListState> state,
    IOptions<JobOptions> options,
    [FromKeyedServices(RegistryClock.Key)] TimeProvider clock,
    ILogger<JobRegistryGrain> logger) : Grain, IJobRegistryGrain
{
    public async Task<JobProperties> Create(JobRequest request)
    {
        JobBlobs.EnsureContainer(request.InputBlobContainerUri, "inputBlobContainerUri");
        JobBlobs.EnsureContainer(request.OutputBlobContainerUri, "outputBlobContainerUri");
        var jobs = await Refresh();
        var active = jobs.Count(j => !j.Status.IsTerminal());
        if (active >= options.Value.MaxActiveJobs)
        {
            throw new RegistryException(RegistryErrorCode.JobQuotaExceeded,
                $"Only {options.Value.MaxActiveJobs} import/export job(s) may be active at a time, and {active} is active. Wait for it to end or cancel it.");
        }
        var jobId = Guid.NewGuid().ToString();
        state.State.Jobs.Add(new JobEntry(jobId, null));
        await Write();
        return await GrainFactory.GetGrain<IJobGrain>(jobId).Start(request);
    }

    public async Task<IReadOnlyList<JobProperties>> List() => await Refresh(listing: true);

    /// <summary>
    /// Every job in the history, with ended jobs past the retention forgotten and end times recorded. When only
    /// <paramref name="listing"/>, what it prunes is written if storage takes it: the list is right either way, and the
    /// next call prunes again (a listing that failed on its write answered 500, hostile review 2026-12-05).
    /// </summary>
    private async Task<IReadOnlyList<JobProperties>> Refresh(bool listing = false)
    {
        var entries = state.State.Jobs;
        var jobs = await Task.WhenAll(entries.Select(e => GrainFactory.GetGrain<IJobGrain>(e.JobId).Get()));
        var cutoff = clock.GetUtcNow().UtcDateTime - options.Value.HistoryRetention;
        var kept = new List<JobEntry>(entries.Count);
        var listed = new List<JobProperties>(entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            // A job with no state never started (its Start failed) or was forgotten.
            if (jobs[i] is not { } job)
            {
                continue;
            }
            var ended = job.Status.IsTerminal() ? job.EndTimeUtc ?? cutoff : (DateTime?)null;
            if (ended is { } end && end < cutoff)
            {
                await GrainFactory.GetGrain<IJobGrain>(job.JobId).Forget();
                continue;
            }
            kept.Add(new JobEntry(job.JobId, ended));
            listed.Add(job);
        }
        if (!kept.SequenceEqual(entries))
        {
            state.State.Jobs = kept;
            try
            {
                await Write();
            }
            catch (Exception e) when (listing && e is not OperationCanceledException)
            {
                LogPruneNotStored(logger, e);
            }
        }
        return listed;
    }

    /// <summary>
    /// Writes the list. A write that timed out may have landed after all, leaving this activation's etag stale (the next
    /// write then met a 412 and answered 500): on a conflict the etag is read again and the list, of which this activation
    /// is the only writer, written over it once more.
    /// </summary>
    private async Task Write()
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch (Exception e) when (e is InconsistentStateException || e.InnerException is InconsistentStateException)
        {
            var ours = state.State;
            await state.ReadStateAsync();
            state.State = ours;
            await state.WriteStateAsync();
        }
    }

    [LoggerMessage(EventId = 2311, Level = LogLevel.Warning, Message = "The job list could not store the jobs it forgot or saw end; the next call writes them again")]
    private static partial void LogPruneNotStored(ILogger logger, Exception exception);
}
