using System.Net;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// docs/invariants.md §3 and §6 over HTTP after concurrent writes. The scale (5,000 creates, 1,000
/// deletes) is carried by <c>Grains/RegistryIndexTests</c>, where it is cheap; this test proves what the grain test
/// cannot: concurrent bulk requests and concurrent HTTP deletes, then a walk that follows <c>x-ms-continuation</c>
/// across pages and every index partition, and statistics as the gateway answers them, all agree with what was
/// acknowledged. (<c>DeviceListTests</c> walks a registry that was only ever created, one bulk request at a time.)
/// </summary>
public sealed class LargeRegistryPagingTests
{
    private const int Created = 500;
    private const int Deleted = 100;

    private static string IdOf(int i) => $"large-{i:D4}";

    [Fact]
    public async Task After_concurrent_bulk_creates_and_deletes_the_continuation_walk_returns_exactly_the_devices_left_and_statistics_agree()
    {
        await using var host = await RegistryTestHost.StartAsync();
        using var http = host.CreateClient();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = 8 };

        await Parallel.ForEachAsync(Enumerable.Range(0, Created).Chunk(50), parallel, async (chunk, _) =>
        {
            var items = chunk.Select(i => new { id = IdOf(i), importMode = "create", status = i % 4 == 0 ? "disabled" : "enabled" });
            using var response = await http.BulkAsync(Json(items.ToArray()));
            Assert.True((bool)(await response.ReadJsonAsync(HttpStatusCode.OK))["isSuccessful"]!);
        });

        // Every fifth device goes: a spread over every partition, some enabled, some disabled.
        var deleted = Enumerable.Range(0, Created).Where(i => i % 5 == 2).ToArray();
        Assert.Equal(Deleted, deleted.Length);
        await Parallel.ForEachAsync(deleted, parallel, async (i, _) =>
        {
            using var response = await http.DeleteDeviceAsync(IdOf(i), "\"*\"");
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        });

        var remaining = Enumerable.Range(0, Created).Except(deleted).ToArray();
        var (ids, pages) = await DeviceListTests.Walk(http, 100);
        Assert.True(pages >= (Created - Deleted) / 100, $"{pages} pages of 100");
        Assert.Equal(Created - Deleted, ids.Count);
        Assert.Equal(remaining.Select(IdOf).Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));

        var statistics = await http.StatisticsAsync();
        Assert.Equal(Created - Deleted, statistics.Count("totalDeviceCount"));
        Assert.Equal(remaining.Count(i => i % 4 == 0), statistics.Count("disabledDeviceCount"));
        Assert.Equal(remaining.Count(i => i % 4 != 0), statistics.Count("enabledDeviceCount"));
    }

    /// <summary>
    /// Hostile re-check, 2026-12-04 (seen on the outages list, which pages alike): a page that took the last entries of a
    /// partition carried a cursor whenever later partitions existed, so a walk whose last device was not in the last
    /// partition ended on an empty page, though wire-contract §8 says the cursor comes only while more devices follow.
    /// </summary>
    [Fact]
    public async Task A_walk_ends_with_the_page_that_takes_the_last_device()
    {
        await using var host = await RegistryTestHost.StartAsync();
        using var http = host.CreateClient();
        // Three devices before the last partition (the default 256): after the last of them, only empty partitions follow.
        var ids = Enumerable.Range(0, 1000).Select(i => $"ends-{i}")
            .Where(id => Registry.Abstractions.DevicePartitioner.PartitionOf(id, 256) < 200).Take(3).ToArray();
        foreach (var id in ids)
        {
            await http.CreateDeviceAsync(id);
        }

        var sizes = new List<int>();
        var (walked, pages) = await DeviceListTests.Walk(http, 1, sizes.Add);

        Assert.Equal(ids.Order(StringComparer.Ordinal), walked.Order(StringComparer.Ordinal));
        Assert.Equal([1, 1, 1], sizes);
        Assert.Equal(3, pages);
    }
}
