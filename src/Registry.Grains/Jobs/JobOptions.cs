namespace Registry.Grains.Jobs;

/// <summary>How import and export jobs run; the defaults are IoT Hub's limits where it has one.</summary>
public sealed class JobOptions
{
    /// <summary>Import/export jobs that may be enqueued or running at once; IoT Hub allows one on every tier.</summary>
    public int MaxActiveJobs { get; set; } = 1;

    /// <summary>How long an ended job stays in the history (IoT Hub: 30 days).</summary>
    public TimeSpan HistoryRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Period of the reminder that brings a job back after its silo failed; reminders need at least a minute.</summary>
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Index partitions exported at once, each by a worker on whichever silo it lands.</summary>
    public int ExportParallelism { get; set; } = 16;

    /// <summary>Bytes of NDJSON a worker gathers before it stages them as one block of the output blob.</summary>
    public int ExportBlockBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Input lines per import chunk: the unit of work, of checkpoint, and of what a resume may re-apply.</summary>
    public int ImportChunkLines { get; set; } = 500;

    /// <summary>
    /// Lines of one chunk applied at once, in storage-group order (<see cref="StorageGroups"/>): a chunk longer than this
    /// walks its lines through a window of this many, so a chunk of many groups keeps the writes in flight within a few
    /// groups at a time, where they meet in storage's transactions.
    /// </summary>
    public int ImportLinesInFlight { get; set; } = 500;

    /// <summary>
    /// How many storage groups the registry's index entries and batched device rows are stored under (partition mod this
    /// count; 1 where storage does not group them). A chunk applies its lines group by group, partition by partition.
    /// </summary>
    public int StorageGroups { get; set; } = 1;

    /// <summary>
    /// Import chunks applied at once; the checkpoint advances over the longest finished prefix. Their lines are all in
    /// flight together, and storage must answer each within the storage timeout: 2 × 500 lines kept a loaded 2-core
    /// machine's Azurite within it, where 8 × 500 timed out the lines and then the job's own checkpoint write.
    /// </summary>
    public int ImportChunksInFlight { get; set; } = 2;

    /// <summary>A longer input line is a per-line error; it is skipped without being held in memory.</summary>
    public int MaxLineBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// How long a chunk keeps applying again the lines storage did not answer in time (503) before it logs the rest as
    /// failed. Bounded by time, not by a count of tries: storage that is slow but answering gets every line in (five
    /// tries over 15 s left 2,317 lines of a 1M import in importErrors.log), storage that is down still ends the chunk
    /// well within its call's timeout (<see cref="IBulkJobGrain.ChunkTimeout"/>).
    /// </summary>
    public TimeSpan UnansweredLineWindow { get; set; } = TimeSpan.FromMinutes(4);

    /// <summary>The pause before the first re-application of unanswered lines; the n-th waits n times as long, at most 10 s.</summary>
    public TimeSpan UnansweredLineDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// When the silo running a job grain stops, how long the job waits for its import chunks in flight to end (this silo's
    /// own stop them before their next line) so it can store what each came to; one still running then is replayed whole
    /// by the resume. Well inside the host's shutdown bound (Registry:ShutdownTimeoutSeconds, 15 s by default).
    /// </summary>
    public TimeSpan HandBackWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a stopping silo waits for the job loops and chunks running on it to end before it leaves the cluster
    /// (<see cref="JobDrain"/>): longer than <see cref="HandBackWait"/>, so a job grain stopping with its silo stores what
    /// its chunks came to first; within the host's shutdown bound.
    /// </summary>
    public TimeSpan StopDrainWait { get; set; } = TimeSpan.FromSeconds(8);
}
