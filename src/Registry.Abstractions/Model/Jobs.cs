namespace Registry.Abstractions;

/// <summary>IoT Hub's job type; the registry runs only the device import and export jobs.</summary>
[GenerateSerializer, Alias("registry.JobType")]
public enum JobType
{
    Unknown = 0,
    Import = 1,
    Export = 2,
}

/// <summary>IoT Hub's job status: <c>enqueued → running → completed | failed | cancelled</c>.</summary>
[GenerateSerializer, Alias("registry.JobStatus")]
public enum JobStatus
{
    Unknown = 0,
    Enqueued = 1,
    Running = 2,
    Completed = 3,
    Failed = 4,
    Cancelled = 5,
}

/// <summary>Helpers over <see cref="JobStatus"/>.</summary>
public static class JobStatusExtensions
{
    /// <summary>Whether the job will not change any more (and no longer counts against the active-job limit).</summary>
    public static bool IsTerminal(this JobStatus status) => status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;
}

/// <summary>
/// What a caller asks for when it creates an import or export job (IoT Hub's JobProperties, request part). The
/// container URIs carry their SAS: the registry has no credentials of its own for the caller's storage.
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.JobRequest")]
public sealed record JobRequest
{
    [Id(0)] public required JobType Type { get; init; }
    [Id(1)] public string? InputBlobContainerUri { get; init; }
    [Id(2)] public string InputBlobName { get; init; } = JobBlobNames.Devices;
    [Id(3)] public required string OutputBlobContainerUri { get; init; }
    [Id(4)] public string OutputBlobName { get; init; } = JobBlobNames.Devices;
    [Id(5)] public bool ExcludeKeysInExport { get; init; }
}

/// <summary>IoT Hub's blob names for jobs (C# <c>CommonConstants</c>).</summary>
public static class JobBlobNames
{
    /// <summary>The default input and output blob of a job.</summary>
    public const string Devices = "devices.txt";

    /// <summary>Where an import writes its failed lines, in the output container.</summary>
    public const string ImportErrors = "importErrors.log";
}

/// <summary>A job as the registry reports it (IoT Hub's JobProperties).</summary>
[GenerateSerializer, Immutable, Alias("registry.JobProperties")]
public sealed record JobProperties
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public required JobRequest Request { get; init; }
    [Id(2)] public JobStatus Status { get; init; }
    /// <summary>0–100, from work really done: partitions exported or input bytes applied.</summary>
    [Id(3)] public int Progress { get; init; }
    [Id(4)] public DateTime CreatedTimeUtc { get; init; }
    [Id(5)] public DateTime? StartTimeUtc { get; init; }
    [Id(6)] public DateTime? EndTimeUtc { get; init; }
    [Id(7)] public string? FailureReason { get; init; }
    /// <summary>Devices written (export) or lines applied without error (import).</summary>
    [Id(8)] public long DevicesProcessed { get; init; }
    /// <summary>Import lines that failed (each one is in importErrors.log).</summary>
    [Id(9)] public long ErrorCount { get; init; }
}
