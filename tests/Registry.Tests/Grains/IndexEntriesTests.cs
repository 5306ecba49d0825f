using Registry.Tests.Infrastructure;
using Registry.Abstractions;
using Registry.Grains.Index;

namespace Registry.Tests.Grains;

/// <summary>The chunked sorted entries of an index partition agree with a plain sorted map through splits and removals.</summary>
public sealed class IndexEntriesTests
{
    [Fact]
    public void Twenty_thousand_changes_across_many_chunks_page_and_count_exactly_like_a_sorted_map()
    {
        var random = new Random(8);
        var entries = new IndexEntries();
        var model = new SortedDictionary<string, bool>(StringComparer.Ordinal);
        for (var i = 0; i < 20_000; i++)
        {
            var id = $"d{random.Next(6_000)}";
            if (random.Next(4) == 0)
            {
                Assert.Equal(model.Remove(id), entries.Remove(id));
            }
            else
            {
                var enabled = random.Next(2) == 0;
                var changed = !model.TryGetValue(id, out var was) || was != enabled;
                model[id] = enabled;
                Assert.Equal(changed, entries.Set(id, enabled));
            }
        }

        Assert.True(model.Count > 2 * IndexEntries.ChunkSize, "the test must cross chunks");
        Assert.Equal((model.Count, model.Count(e => e.Value)), (entries.Count, entries.EnabledCount));
        Assert.Equal(model.Select(e => new IndexEntry(e.Key, e.Value)), entries.ToArray());

        // Walked in pages of 97 from cursors that are, and are not, stored ids: every entry once, in order.
        var walked = new List<IndexEntry>();
        string? after = null;
        IndexPage page;
        do
        {
            page = entries.Page(after, 97);
            walked.AddRange(page.Entries);
            after = page.Entries.Count > 0 ? page.Entries[^1].DeviceId : after;
        }
        while (page.HasMore);
        Assert.Equal(model.Select(e => new IndexEntry(e.Key, e.Value)), walked);
        Assert.Equal(model.Keys.Where(k => string.CompareOrdinal(k, "d3") > 0).Take(5), entries.Page("d3", 5).Entries.Select(e => e.DeviceId));
        Assert.True(entries.TryGet(model.Keys.First(), out _));
        Assert.False(entries.TryGet("d-none", out _));
    }
}
