namespace Registry.Grains.Jobs;

/// <summary>
/// A running job's <c>progress</c> (0–100) from the work it has checkpointed: an import's input bytes applied over the
/// blob's length, an export's partitions staged over the partitions. A truncated percentage read 0 for the whole first
/// percent of the work (minutes of a large import, thousands of lines applied), so any work done shows at least 1; 100
/// only once the job completed (its blob committed), so a running job shows at most 99.
/// </summary>
internal static class JobProgress
{
    public static int Import(long bytesApplied, long totalBytes) => Percent(bytesApplied, totalBytes);

    public static int Export(int partitionsDone, int partitions) => Percent(partitionsDone, partitions);

    private static int Percent(long done, long total) =>
        done <= 0 ? 0 : total <= 0 || done >= total ? 99 : (int)Math.Clamp(done * 100 / total, 1, 99);
}
