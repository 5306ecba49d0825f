using Registry.Abstractions;

namespace Registry.Grains.Jobs;

/// <summary>What a job grain persists: the job as reported, and where its work stands so a resume skips what is done.</summary>
[GenerateSerializer, Alias("registry.JobState")]
public sealed class JobState
{
    [Id(0)] public JobProperties? Job { get; set; }
    [Id(1)] public ExportCheckpoint Export { get; set; } = new();
    [Id(2)] public ImportCheckpoint Import { get; set; } = new();
}

/// <summary>
/// Export: the partitions whose lines are staged, each with the number of blocks it staged. Block ids follow from
/// (partition, sequence), so this is enough to commit the blob in partition order, and a resumed job exports only
/// the partitions missing here.
/// </summary>
[GenerateSerializer, Alias("registry.ExportCheckpoint")]
public sealed class ExportCheckpoint
{
    [Id(0)] public Dictionary<int, int> BlocksByPartition { get; set; } = [];
}

/// <summary>
/// Import: the byte offset after the last chunk of a fully applied prefix of the input, the error blocks staged for
/// that prefix, and how far chunks were handed out (beyond <see cref="Offset"/> a resume re-applies, knowing that the
/// first attempt may already have applied those lines).
/// </summary>
[GenerateSerializer, Alias("registry.ImportCheckpoint")]
public sealed class ImportCheckpoint
{
    [Id(0)] public long Offset { get; set; }
    [Id(1)] public long DispatchedTo { get; set; }
    [Id(2)] public int ErrorBlocks { get; set; }
    /// <summary>Whether the empty importErrors.log was written, proving the output container writable before any line was applied.</summary>
    [Id(3)] public bool ErrorLogCreated { get; set; }

    /// <summary>
    /// Chunks beyond <see cref="Offset"/> that were in flight when the job's own silo began to stop, with what they came
    /// to: the resume sends each again knowing which of its lines ended how, instead of replaying it whole.
    /// </summary>
    [Id(4)] public List<ImportHandBack> HandedBack { get; set; } = [];

    /// <summary>
    /// Byte offsets, beyond <see cref="Offset"/>, of lines that failed as storage stood when their chunk was first sent
    /// (deletes whose device was not stored, ETag-conditional writes whose eTag did not match): such a line fails on its
    /// first attempt, so a replay after a crash logs it rather than take it for its own earlier success. (Named when it
    /// held deletes only; the name is the stored state's.)
    /// </summary>
    [Id(5)] public List<long> DoomedDeletes { get; set; } = [];

    /// <summary>
    /// The ETag of the input blob as the job first read it: every later read of the input, a resume's included, is of that
    /// version. A resume once read a blob replaced meanwhile from the old one's byte offset and applied parts of two files
    /// (hostile review, 2026-12-07). Null in a checkpoint stored before it was kept: such a job records the blob as it finds it.
    /// </summary>
    [Id(6)] public string? InputETag { get; set; }
}

/// <summary>
/// What a chunk (input bytes <see cref="Offset"/> to <see cref="End"/>) came to when its job stopped: the whole result when
/// it ended, otherwise what its stopped attempts finished (<see cref="Done"/>) and whether the lines they did not name may
/// have been applied all the same (<see cref="Replay"/>: an earlier attempt was lost, or the last one did not answer in time).
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.ImportHandBack")]
public sealed record ImportHandBack(
    [property: Id(0)] long Offset,
    [property: Id(1)] long End,
    [property: Id(2)] ImportChunkResult? Completed,
    [property: Id(3)] ImportChunkProgress? Done,
    [property: Id(4)] bool Replay);
