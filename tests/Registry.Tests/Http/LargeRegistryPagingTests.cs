using System.Net;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// Invariant 3 over HTTP at a size that spreads every index partition: after concurrent bulk creates and
/// concurrent single deletes, the cursor walk and the statistics agree with what was acknowledged.
/// </summary>
public sealed class LargeRegistryPagingTests
{
    private const int Created = 5000;
    private const int Deleted = 1000;

    private static string IdOf(int i) => $"large-{i:D5}";

    [Fact]
    public async Task After_5000_concurrent_creates_and_1000_deletes_paging_returns_exactly_the_4000_left_and_statistics_agree()
    {
        await using var host = await RegistryTestHost.StartAsync();
        using var http = host.CreateClient();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = 8 };

        await Parallel.ForEachAsync(Enumerable.Range(0, Created).Chunk(100), parallel, async (chunk, _) =>
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
        var (ids, _) = await DeviceListTests.Walk(http, 1000);
        Assert.Equal(Created - Deleted, ids.Count);
        Assert.Equal(remaining.Select(IdOf).Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));

        var statistics = await http.StatisticsAsync();
        Assert.Equal(Created - Deleted, statistics.Count("totalDeviceCount"));
        Assert.Equal(remaining.Count(i => i % 4 == 0), statistics.Count("disabledDeviceCount"));
        Assert.Equal(remaining.Count(i => i % 4 != 0), statistics.Count("enabledDeviceCount"));
    }
}
