namespace Registry.Grains.Jobs;

/// <summary>
/// How many import chunks a job keeps in flight: up to <see cref="JobOptions.ImportChunksInFlight"/>, halved whenever a
/// chunk reports lines storage did not answer in time, and grown back by one for each chunk that had none. Storage then
/// sets the pace: a registry whose storage slows as it fills (Azurite scans a partition's rows to find one) keeps
/// importing at what storage answers instead of timing lines out, retrying them onto the same storage, and failing the
/// job when its own checkpoint write meets the same timeouts (a 1M-line import did, at 28 %).
/// </summary>
internal sealed class ImportPace(int most)
{
    /// <summary>Chunks to keep in flight now, from 1 to the configured most.</summary>
    public int Window { get; private set; } = Math.Max(1, most);

    /// <summary>A chunk ended; <paramref name="unanswered"/> of its lines had to be applied again after a timeout.</summary>
    public void Ended(int unanswered) =>
        Window = unanswered > 0 ? Math.Max(1, Window / 2) : Math.Min(Math.Max(1, most), Window + 1);
}
