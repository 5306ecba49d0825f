using Registry.Abstractions;

namespace Registry.Grains.Jobs;

/// <summary>
/// The design card's stateless BulkJobGrain: one chunk of a job (a partition's export, a slice of import lines) on
/// whichever silo it lands. Holds nothing durable: the job grain owns the checkpoint and re-sends a chunk that was lost.
/// </summary>
[Alias("registry.IBulkJobGrain")]
public interface IBulkJobGrain : IGrainWithIntegerKey
{
    /// <summary>How long the job waits for one chunk: thousands of storage writes or a partition's scan, on storage that may be slow.</summary>
    const string ChunkTimeout = "00:10:00";

    /// <summary>
    /// Stages every device of one index partition as blocks of the output blob; the job grain commits them. A chunk may
    /// take longer than the silo's call timeout (30 s) on slow storage: the job waits for it instead of failing (a
    /// silo's failure still ends the call at once).
    /// </summary>
    [Alias("ExportPartition")]
    [ResponseTimeout(ChunkTimeout)]
    Task<ExportChunkResult> ExportPartition(ExportChunk chunk);

    /// <summary>
    /// Stages every device of the partitions of one storage group (<see cref="Devices.IDevicePartitionScan.Groups"/>),
    /// read by one scan, as each partition's blocks of the output blob, the same blocks <see cref="ExportPartition"/>
    /// would stage for each; only for storages that offer the scan.
    /// </summary>
    [Alias("ExportGroup")]
    [ResponseTimeout(ChunkTimeout)]
    Task<ExportGroupResult> ExportGroup(ExportGroup group);

    /// <summary>Applies the lines of one slice of the input; returns the lines that failed.</summary>
    [Alias("ImportChunk")]
    [ResponseTimeout(ChunkTimeout)]
    Task<ImportChunkResult> ImportChunk(ImportChunk chunk);
}

/// <summary>What an import's worker asks a device grain once the device's line is applied (implemented by the device grain).</summary>
[Alias("registry.IImportedDevice")]
public interface IImportedDevice : IGrainWithStringKey
{
    /// <summary>
    /// Leaves memory now, so an import holds a window's activations rather than the file's, unless this activation must
    /// stay: a session is open, or monitoring is timing a deadline from a heartbeat (or an arming) it holds in memory.
    /// </summary>
    [Alias("Rest")]
    Task Rest();
}

[GenerateSerializer, Immutable, Alias("registry.ExportChunk")]
public sealed record ExportChunk(
    [property: Id(0)] string JobId,
    [property: Id(1)] int Partition,
    [property: Id(2)] string ContainerUri,
    [property: Id(3)] string BlobName,
    [property: Id(4)] bool ExcludeKeys);

[GenerateSerializer, Immutable, Alias("registry.ExportChunkResult")]
public sealed record ExportChunkResult([property: Id(0)] int Blocks, [property: Id(1)] long Devices);

/// <summary>The partitions of one storage group, exported by one scan of their rows.</summary>
[GenerateSerializer, Immutable, Alias("registry.ExportGroup")]
public sealed record ExportGroup(
    [property: Id(0)] string JobId,
    [property: Id(1)] IReadOnlyList<int> Partitions,
    [property: Id(2)] string ContainerUri,
    [property: Id(3)] string BlobName,
    [property: Id(4)] bool ExcludeKeys)
{
    /// <summary>The chunk of one of the group's partitions, as <see cref="IBulkJobGrain.ExportPartition"/> would be given it.</summary>
    public ExportChunk Chunk(int partition) => new(JobId, partition, ContainerUri, BlobName, ExcludeKeys);
}

/// <summary>What each partition of an <see cref="ExportGroup"/> staged: the job checkpoints them all at once.</summary>
[GenerateSerializer, Immutable, Alias("registry.ExportGroupResult")]
public sealed record ExportGroupResult([property: Id(0)] IReadOnlyList<ExportPartitionResult> Partitions);

[GenerateSerializer, Immutable, Alias("registry.ExportPartitionResult")]
public sealed record ExportPartitionResult([property: Id(0)] int Partition, [property: Id(1)] int Blocks, [property: Id(2)] long Devices);

/// <summary>
/// Whole lines of the input starting at byte <see cref="Offset"/>. <see cref="Replay"/>: a previous attempt may have applied
/// them, so a line whose device already is as the line asks counts as applied, not as an error.
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.ImportChunk")]
public sealed record ImportChunk(
    [property: Id(0)] string JobId,
    [property: Id(1)] long Offset,
    [property: Id(2)] byte[] Data,
    [property: Id(3)] bool Replay)
{
    /// <summary>
    /// Lines the worker applies at once, at most, as the job's pace allows (<see cref="ImportPace.Lines"/>); 0 (a chunk
    /// of a job from before this field) applies <see cref="JobOptions.ImportLinesInFlight"/>.
    /// </summary>
    [Id(4)]
    public int LinesInFlight { get; init; }

    /// <summary>
    /// What earlier attempts of this chunk, stopped by their silos' stops, finished (null: none was): the worker applies
    /// only the other lines, and reports these as they ended. Lines it names as unanswered are applied again as replays.
    /// </summary>
    [Id(5)]
    public ImportChunkProgress? Done { get; init; }

    /// <summary>
    /// Byte offsets of the chunk's lines that failed as storage stood when the job first sent the chunk (null: none
    /// known): deletes whose device was not stored, ETag-conditional writes whose eTag did not match. On a replay such a
    /// line's error is its own, not the trace of an earlier attempt's success.
    /// </summary>
    [Id(6)]
    public IReadOnlyList<long>? DoomedLines { get; init; }

    /// <summary>
    /// When the job first started (null: a chunk of a job from before this field): a replayed <c>create</c> finding a
    /// device created before it logs 409001 instead of counting as its first attempt's success.
    /// </summary>
    [Id(7)]
    public DateTime? JobStarted { get; init; }
}

/// <summary>
/// The lines of an import chunk, by byte offset, that attempts stopped by their silos' stops finished: applied, failed
/// (with the error the line logs), or unanswered (storage did not answer in time, or a replayed line failed: it may have
/// landed, so it is applied again as a replay). A line not named was never started.
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.ImportChunkProgress")]
public sealed record ImportChunkProgress(
    [property: Id(0)] IReadOnlyList<long> Applied,
    [property: Id(1)] IReadOnlyList<ImportLineFailure> Failed,
    [property: Id(2)] IReadOnlyList<long> Unanswered);

[GenerateSerializer, Immutable, Alias("registry.ImportLineFailure")]
public sealed record ImportLineFailure([property: Id(0)] long Offset, [property: Id(1)] ImportLineError Error);

[GenerateSerializer, Immutable, Alias("registry.ImportChunkResult")]
public sealed record ImportChunkResult([property: Id(0)] long Applied, [property: Id(1)] IReadOnlyList<ImportLineError> Errors)
{
    /// <summary>Lines storage did not answer in time at least once (applied again): the job's signal to keep fewer chunks in flight.</summary>
    [Id(2)]
    public int Unanswered { get; init; }

    /// <summary>
    /// Set when the chunk stopped before its end because its silo is stopping: what it (and the attempts before it) had
    /// finished. The job sends the chunk again elsewhere with it (<see cref="ImportChunk.Done"/>); the other fields are empty.
    /// </summary>
    [Id(3)]
    public ImportChunkProgress? StoppedWith { get; init; }
}
