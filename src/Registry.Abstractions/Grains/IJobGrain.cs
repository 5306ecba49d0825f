namespace Registry.Abstractions;

/// <summary>
/// One import or export job, keyed by its id: its durable state and checkpoint, and the orchestration of its chunks.
/// Create jobs through <see cref="IJobRegistryGrain"/>, which enforces the active-job limit.
/// </summary>
[Alias("registry.IJobGrain")]
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>Records the job as enqueued and starts it; returns the enqueued job. Idempotent for the same job id.</summary>
    [Alias("Start")]
    Task<JobProperties> Start(JobRequest request);

    /// <summary>The job, or null when no job has this id (or it left the history).</summary>
    [Alias("Get")]
    Task<JobProperties?> Get();

    /// <summary>Cancels a job that has not ended; an ended job is returned as it is. JobNotFound when unknown.</summary>
    [Alias("Cancel")]
    Task<JobProperties> Cancel();

    /// <summary>Drops the job's state (history retention); only an ended job forgets.</summary>
    [Alias("Forget")]
    Task Forget();
}

/// <summary>
/// The hub's list of jobs (key 0): creates jobs under the active-job limit and keeps the history for its retention.
/// </summary>
[Alias("registry.IJobRegistryGrain")]
public interface IJobRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Creates and starts a job; JobQuotaExceeded (403) while the limit of active import/export jobs is reached.</summary>
    [Alias("Create")]
    Task<JobProperties> Create(JobRequest request);

    /// <summary>Every job still in the history, oldest first.</summary>
    [Alias("List")]
    Task<IReadOnlyList<JobProperties>> List();
}
