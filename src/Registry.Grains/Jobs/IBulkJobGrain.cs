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

    /// <summary>Applies the lines of one slice of the input; returns the lines that failed.</summary>
    [Alias("ImportChunk")]
    [ResponseTimeout(ChunkTimeout)]
    Task<ImportChunkResult> ImportChunk(ImportChunk chunk);
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

/// <summary>
/// Whole lines of the input starting at byte <see cref="Offset"/>. <see cref="Replay"/>: a previous attempt may have applied
/// them, so a line whose device already is as the line asks counts as applied, not as an error.
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.ImportChunk")]
public sealed record ImportChunk(
    [property: Id(0)] string JobId,
    [property: Id(1)] long Offset,
    [property: Id(2)] byte[] Data,
    [property: Id(3)] bool Replay);

[GenerateSerializer, Immutable, Alias("registry.ImportChunkResult")]
public sealed record ImportChunkResult([property: Id(0)] long Applied, [property: Id(1)] IReadOnlyList<ImportLineError> Errors);
