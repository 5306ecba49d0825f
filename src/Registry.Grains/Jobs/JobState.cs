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
}
