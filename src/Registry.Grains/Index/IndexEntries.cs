using Registry.Abstractions;

namespace Registry.Grains.Index;

/// <summary>
/// The entries of one index partition in ordinal id order, as sorted chunks of at most <see cref="ChunkSize"/>: an
/// insert or removal moves at most one chunk (a sorted array would move half the partition, a tree would cost ~56 B of
/// node per id), a page is a binary search and a walk, and the counts by status are kept as entries change.
/// </summary>
internal sealed class IndexEntries
{
    public const int ChunkSize = 512;

    private static readonly IComparer<Entry> ById = Comparer<Entry>.Create((a, b) => string.CompareOrdinal(a.Id, b.Id));

    private readonly List<List<Entry>> _chunks = [];

    public int Count { get; private set; }

    public int EnabledCount { get; private set; }

    public bool TryGet(string id, out bool enabled)
    {
        var (chunk, index) = Find(id);
        enabled = index >= 0 && _chunks[chunk][index].Enabled;
        return index >= 0;
    }

    /// <summary>Adds or re-flags <paramref name="id"/>; false when it was already so.</summary>
    public bool Set(string id, bool enabled)
    {
        if (_chunks.Count == 0)
        {
            _chunks.Add([]);
        }
        var (c, index) = Find(id);
        var chunk = _chunks[c];
        if (index >= 0)
        {
            if (chunk[index].Enabled == enabled)
            {
                return false;
            }
            chunk[index] = new Entry(id, enabled);
            EnabledCount += enabled ? 1 : -1;
            return true;
        }

        chunk.Insert(~index, new Entry(id, enabled));
        Count++;
        EnabledCount += enabled ? 1 : 0;
        if (chunk.Count > ChunkSize)
        {
            var half = chunk.Count / 2;
            _chunks.Insert(c + 1, chunk.GetRange(half, chunk.Count - half));
            chunk.RemoveRange(half, chunk.Count - half);
        }
        return true;
    }

    /// <summary>Removes <paramref name="id"/>; false when it was not there.</summary>
    public bool Remove(string id)
    {
        var (c, index) = Find(id);
        if (index < 0)
        {
            return false;
        }
        var chunk = _chunks[c];
        EnabledCount -= chunk[index].Enabled ? 1 : 0;
        Count--;
        chunk.RemoveAt(index);
        if (chunk.Count == 0 && _chunks.Count > 1)
        {
            _chunks.RemoveAt(c);
        }
        return true;
    }

    /// <summary>Up to <paramref name="maxCount"/> entries after <paramref name="after"/> (from the start when null).</summary>
    public IndexPage Page(string? after, int maxCount)
    {
        var page = new List<IndexEntry>(Math.Clamp(maxCount, 0, 1024));
        if (_chunks.Count == 0)
        {
            return new IndexPage(page, HasMore: false);
        }

        var (c, index) = after is null ? (0, 0) : Find(after);
        var i = after is null ? 0 : index >= 0 ? index + 1 : ~index;
        for (; c < _chunks.Count; c++, i = 0)
        {
            var chunk = _chunks[c];
            for (; i < chunk.Count; i++)
            {
                if (page.Count >= maxCount)
                {
                    return new IndexPage(page, HasMore: true);
                }
                page.Add(new IndexEntry(chunk[i].Id, chunk[i].Enabled));
            }
        }
        return new IndexPage(page, HasMore: false);
    }

    /// <summary>Every entry, in order (a copy: the caller may await while the partition changes).</summary>
    public IndexEntry[] ToArray()
    {
        var all = new IndexEntry[Count];
        var n = 0;
        foreach (var chunk in _chunks)
        {
            foreach (var entry in chunk)
            {
                all[n++] = new IndexEntry(entry.Id, entry.Enabled);
            }
        }
        return all;
    }

    /// <summary>The chunk that holds or would hold <paramref name="id"/>, and its index there (its complement when absent).</summary>
    private (int Chunk, int Index) Find(string id)
    {
        if (_chunks.Count == 0)
        {
            return (0, ~0);
        }
        // The last chunk whose first id is not after this one; the first chunk for ids before every other.
        int lo = 1, hi = _chunks.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (string.CompareOrdinal(_chunks[mid][0].Id, id) <= 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        var c = lo - 1;
        return (c, _chunks[c].BinarySearch(new Entry(id, false), ById));
    }

    private readonly record struct Entry(string Id, bool Enabled);
}
