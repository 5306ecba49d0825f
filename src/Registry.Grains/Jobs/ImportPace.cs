namespace Registry.Grains.Jobs;

/// <summary>
/// How much of an import a job keeps in flight: up to <see cref="JobOptions.ImportChunksInFlight"/> chunks, each applying
/// up to <see cref="JobOptions.ImportLinesInFlight"/> lines at once. A chunk that reports lines storage did not answer in
/// time halves the chunks in flight, and once one chunk is left, the lines each chunk applies at once (down to
/// <see cref="FewestLines"/>); each chunk that had none gives back an eighth of the lines, then one chunk. Storage then
/// sets the pace: a registry whose storage slows as it fills (Azurite scans a partition's rows to find one), or whose
/// machine is busy, keeps importing at what storage answers instead of timing lines out, retrying them onto the same
/// storage, and failing the job when its own checkpoint write meets the same timeouts (a 1M-line import did, at 28 %).
/// A job starts at an eighth of the lines (see <see cref="Lines"/>). One chunk of 500 lines at once was still too much for a starved 2-core machine: its first round of writes timed out
/// chunk after chunk, and each was applied again (the 100k import kill, 2026-12-05).
/// </summary>
internal sealed class ImportPace(int most, int mostLines = 1)
{
    /// <summary>The fewest lines a chunk applies at once however slow storage is (unless the setting asks for fewer).</summary>
    public const int FewestLines = 16;

    private readonly int _most = Math.Max(1, most);

    private readonly int _mostLines = Math.Max(1, mostLines);

    /// <summary>Chunks to keep in flight now, from 1 to the configured most.</summary>
    public int Window { get; private set; } = Math.Max(1, most);

    /// <summary>
    /// Lines each chunk sent now applies at once, from <see cref="FewestLines"/> to the configured most. A job starts at
    /// an eighth of the most and grows from there: its first chunks meet a cold cluster (index partitions loading, code
    /// not yet compiled), where the import kill's first 3,000 lines took 77 s of timeouts and retries at 500 lines at once
    /// and the next 97,000 took 134 s (a fresh-clone suite on a 2-core machine, 2026-12-05).
    /// </summary>
    public int Lines { get; private set; } = Math.Max(Math.Min(FewestLines, Math.Max(1, mostLines)), mostLines / 8);

    /// <summary>A chunk ended; <paramref name="unanswered"/> of its lines had to be applied again after a timeout.</summary>
    public void Ended(int unanswered)
    {
        if (unanswered > 0)
        {
            if (Window > 1)
            {
                Window = Math.Max(1, Window / 2);
            }
            else
            {
                Lines = Math.Max(Math.Min(FewestLines, _mostLines), Lines / 2);
            }
        }
        else if (Lines < _mostLines)
        {
            Lines = Math.Min(_mostLines, Lines + Math.Max(1, _mostLines / 8));
        }
        else
        {
            Window = Math.Min(_most, Window + 1);
        }
    }
}
