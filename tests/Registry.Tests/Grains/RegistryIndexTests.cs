using Registry.Abstractions;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Grains;

/// <summary>
/// The index invariants (docs/invariants.md §3-§6) on a fresh cluster per class: listing, cursor paging and statistics see exactly the
/// registered devices. Each test uses its own fixture so counts start from zero.
/// </summary>
public sealed class RegistryIndexTests : IAsyncLifetime
{
    private readonly RegistryClusterFixture _fixture = new();

    public ValueTask InitializeAsync() => _fixture.InitializeAsync();

    public ValueTask DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Five_thousand_concurrent_creates_then_a_thousand_deletes_page_to_exactly_the_remaining_four_thousand()
    {
        var ids = Enumerable.Range(0, 5000).Select(i => $"bulk-{i:D5}").ToArray();
        await Task.WhenAll(ids.Select(id => _fixture.Device(id).Create(Sas(id, id.EndsWith('7') ? DeviceStatus.Disabled : DeviceStatus.Enabled))));
        var deleted = ids.Where((_, i) => i % 5 == 0).ToHashSet();
        await Task.WhenAll(deleted.Select(id => _fixture.Device(id).Delete(ETagCondition.Any)));

        var seen = await PageThrough(maxItemCount: 333);

        var expected = ids.Where(id => !deleted.Contains(id)).ToArray();
        Assert.Equal(4000, seen.Count);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(expected.Order(StringComparer.Ordinal), seen.Order(StringComparer.Ordinal));

        var stats = await _fixture.Registry.GetStatistics();
        var disabled = expected.Count(id => id.EndsWith('7'));
        Assert.Equal(new RegistryStatistics(4000, 4000 - disabled, disabled), stats);
    }

    [Fact]
    public async Task Paging_is_a_stable_order_and_a_cursor_resumes_where_the_last_page_ended()
    {
        var ids = Enumerable.Range(0, 50).Select(i => $"order-{i}").ToArray();
        await Task.WhenAll(ids.Select(id => _fixture.Device(id).Create(Sas(id))));

        var all = await PageThrough(maxItemCount: 1000);
        var inSevens = await PageThrough(maxItemCount: 7);

        Assert.Equal(all, inSevens);
        Assert.Equal(ids.Order(StringComparer.Ordinal), all.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Listing_without_a_cursor_returns_at_most_the_requested_count()
    {
        var ids = Enumerable.Range(0, 30).Select(i => $"top-{i}").ToArray();
        await Task.WhenAll(ids.Select(id => _fixture.Device(id).Create(Sas(id))));

        var page = await _fixture.Registry.List(10, null);

        Assert.Equal(10, page.Devices.Count);
        Assert.NotNull(page.Continuation);
    }

    [Fact]
    public async Task Out_of_range_page_sizes_mean_a_thousand()
    {
        var ids = Enumerable.Range(0, 3).Select(i => $"range-{i}").ToArray();
        await Task.WhenAll(ids.Select(id => _fixture.Device(id).Create(Sas(id))));

        Assert.Equal(3, (await _fixture.Registry.List(0, null)).Devices.Count);
        Assert.Equal(3, (await _fixture.Registry.List(5000, null)).Devices.Count);
        Assert.Null((await _fixture.Registry.List(-1, null)).Continuation);
    }

    [Fact]
    public async Task A_malformed_continuation_token_answers_ArgumentInvalid()
    {
        var error = await Assert.ThrowsAsync<RegistryException>(() => _fixture.Registry.List(10, "not-a-token"));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, error.Code);
    }

    [Fact]
    public async Task A_phantom_index_entry_is_not_listed_and_is_dropped_when_met()
    {
        const string phantom = "phantom-device";
        var partition = _fixture.Grains.GetGrain<IDeviceIndexGrain>(DevicePartitioner.PartitionOf(phantom, RegistryClusterFixture.Partitions));
        await partition.Upsert([new IndexEntry(phantom, true)]);
        Assert.Equal(1, (await _fixture.Registry.GetStatistics()).TotalDeviceCount);

        var listed = await PageThrough(1000);

        Assert.DoesNotContain(phantom, listed);
        Assert.Equal(new IndexCounts(0, 0), await partition.Counts());
    }

    [Fact]
    public async Task A_stale_status_flag_in_the_index_is_corrected_when_met()
    {
        var id = NewId();
        await _fixture.Device(id).Create(Sas(id));
        var partition = _fixture.Grains.GetGrain<IDeviceIndexGrain>(DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions));
        await partition.Upsert([new IndexEntry(id, false)]);

        await PageThrough(1000);

        Assert.Equal(new RegistryStatistics(1, 1, 0), await _fixture.Registry.GetStatistics());
    }

    [Fact]
    public async Task Statistics_follow_status_changes_and_deletes()
    {
        var a = NewId();
        var b = NewId();
        await _fixture.Device(a).Create(Sas(a));
        await _fixture.Device(b).Create(Sas(b));
        Assert.Equal(new RegistryStatistics(2, 2, 0), await _fixture.Registry.GetStatistics());

        await _fixture.Device(a).Update(Sas(a, DeviceStatus.Disabled), ETagCondition.Any);
        Assert.Equal(new RegistryStatistics(2, 1, 1), await _fixture.Registry.GetStatistics());

        await _fixture.Device(b).Delete(ETagCondition.Any);
        Assert.Equal(new RegistryStatistics(1, 0, 1), await _fixture.Registry.GetStatistics());
    }

    private async Task<List<string>> PageThrough(int maxItemCount)
    {
        var seen = new List<string>();
        string? continuation = null;
        do
        {
            var page = await _fixture.Registry.List(maxItemCount, continuation);
            Assert.True(page.Devices.Count <= maxItemCount);
            seen.AddRange(page.Devices.Select(d => d.DeviceId));
            continuation = page.Continuation;
        }
        while (continuation is not null);
        return seen;
    }
}
