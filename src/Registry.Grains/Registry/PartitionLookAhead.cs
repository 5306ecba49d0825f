namespace Registry.Grains.Registry;

/// <summary>
/// Where a paged walk (the device list, the outages list) goes on after a page that ended with a partition: the first
/// later partition that holds anything, asked a window of partitions at a time, so a walk's last page carries no cursor.
/// </summary>
internal static class PartitionLookAhead
{
    public const int Window = 32;

    /// <summary>The first partition from <paramref name="from"/> on for which <paramref name="holdsAny"/> is true, or <paramref name="partitions"/>.</summary>
    public static async Task<int> FirstHolding(int from, int partitions, Func<int, Task<bool>> holdsAny)
    {
        for (var first = from; first < partitions; first += Window)
        {
            var held = await Task.WhenAll(Enumerable.Range(first, Math.Min(Window, partitions - first)).Select(holdsAny));
            var hit = Array.IndexOf(held, true);
            if (hit >= 0)
            {
                return first + hit;
            }
        }
        return partitions;
    }
}
