using System.Net;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>A registry holding more devices than one list answer may carry; the tests only read it.</summary>
public sealed class ListedRegistryFixture : RegistryHostFixture
{
    public const int DeviceCount = 1050;

    public static string IdOf(int i) => $"listed-{i:D4}";

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        foreach (var chunk in Enumerable.Range(0, DeviceCount).Chunk(100))
        {
            var items = chunk.Select(i => new { id = IdOf(i), importMode = "create", status = i % 3 == 0 ? "disabled" : "enabled" });
            using var response = await Client.BulkAsync(Json(items.ToArray()));
            Assert.True((bool)(await response.ReadJsonAsync(HttpStatusCode.OK))["isSuccessful"]!);
        }
    }
}

/// <summary>
/// <c>GET /devices</c>: IoT Hub's list with <c>top</c> (docs/wire-contract.md §8) and the registry's cursor walk
/// with <c>x-ms-max-item-count</c> / <c>x-ms-continuation</c>.
/// </summary>
public sealed class DeviceListTests(ListedRegistryFixture registry) : IClassFixture<ListedRegistryFixture>
{
    private const string MaxItemCount = "x-ms-max-item-count";
    private const string Continuation = "x-ms-continuation";

    private readonly HttpClient _http = registry.Client;

    private static readonly string[] AllIds = Enumerable.Range(0, ListedRegistryFixture.DeviceCount).Select(ListedRegistryFixture.IdOf).ToArray();

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(999)]
    [InlineData(1000)]
    public async Task List_with_top_in_range_answers_exactly_top_distinct_devices(int top)
    {
        using var response = await _http.GetAsync($"devices/?top={top}&{ApiVersion}");

        var ids = await Ids(response);
        Assert.Equal(top, ids.Count);
        Assert.Equal(top, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.Subset(AllIds.ToHashSet(), ids.ToHashSet());
    }

    [Theory]
    [InlineData("top=0&")]
    [InlineData("top=-1&")]
    [InlineData("top=1001&")]
    [InlineData("top=5000&")]
    [InlineData("top=abc&")]
    [InlineData("top=&")]
    [InlineData("")]
    public async Task List_with_top_absent_or_out_of_range_answers_1000_devices(string top)
    {
        using var response = await _http.GetAsync($"devices/?{top}{ApiVersion}");

        var ids = await Ids(response);
        Assert.Equal(1000, ids.Count);
        Assert.Equal(1000, ids.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task List_at_devices_and_at_devices_slash_answer_the_same_devices()
    {
        using var node = await _http.GetAsync($"devices/?{ApiVersion}");
        using var bare = await _http.GetAsync($"devices?{ApiVersion}");

        AssertSameJson(await node.ReadJsonAsync(HttpStatusCode.OK), await bare.ReadJsonAsync(HttpStatusCode.OK));
    }

    [Fact]
    public async Task List_items_are_whole_devices_with_status_and_keys()
    {
        using var response = await _http.GetAsync($"devices/?top=1000&{ApiVersion}");

        var devices = (await response.ReadJsonAsync(HttpStatusCode.OK)).AsArray();
        Assert.All(devices, d =>
        {
            var index = int.Parse(((string)d!["deviceId"]!)["listed-".Length..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(index % 3 == 0 ? "disabled" : "enabled", (string?)d["status"]);
            Assert.False(string.IsNullOrEmpty((string?)d["etag"]));
            Assert.NotNull((string?)d["authentication"]!["symmetricKey"]!["primaryKey"]);
        });
    }

    [Fact]
    public async Task A_plain_list_sends_no_continuation_header()
    {
        using var response = await _http.GetAsync($"devices/?{ApiVersion}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains(Continuation));
    }

    [Theory]
    [InlineData(97)]
    [InlineData(1000)]
    public async Task Cursor_paging_walks_the_whole_registry_returning_every_device_exactly_once(int pageSize)
    {
        var (ids, pages) = await Walk(_http, pageSize);

        Assert.Equal(AllIds.Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
        Assert.True(pages >= (ListedRegistryFixture.DeviceCount + pageSize - 1) / pageSize, $"{pages} pages of {pageSize}");
        Assert.Equal(ids.Count, (await _http.StatisticsAsync()).Count("totalDeviceCount"));
    }

    [Fact]
    public async Task Cursor_paging_answers_pages_no_larger_than_the_max_item_count()
    {
        var (_, pages) = await Walk(_http, 250, page => Assert.InRange(page, 0, 250));

        Assert.True(pages >= 5);
    }

    /// <summary>
    /// Follows <c>x-ms-continuation</c> from the first page to the one without it; every id seen, in order.
    /// Fails on a repeated cursor, so a cursor that never advances cannot loop. With <paramref name="retryBusy"/> a page
    /// answered 503 ServiceUnavailable is asked again (as a client retries "Retry later"), until <paramref name="ct"/>
    /// ends: the process-level failure tests list on a machine loaded with several registry processes and Azurite, where
    /// the registry sheds load by that answer (a full restart's listing met "Storage is busy … 64 in flight", 2026-12-05).
    /// </summary>
    public static async Task<(List<string> Ids, int Pages)> Walk(HttpClient http, int pageSize, Action<int>? onPage = null, bool retryBusy = false, CancellationToken ct = default)
    {
        var ids = new List<string>();
        var cursors = new HashSet<string>(StringComparer.Ordinal);
        string? cursor = null;
        var pages = 0;
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"devices/?{ApiVersion}");
            request.Headers.Add(MaxItemCount, pageSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (cursor is not null)
            {
                request.Headers.Add(Continuation, cursor);
            }
            using var response = await http.SendAsync(request, ct);
            if (retryBusy && response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                await Task.Delay(500, ct); // the same page again
                continue;
            }
            var page = await Ids(response);
            onPage?.Invoke(page.Count);
            ids.AddRange(page);
            pages++;
            cursor = response.Headers.TryGetValues(Continuation, out var next) ? next.Single() : null;
            if (cursor is null)
            {
                break;
            }
            Assert.True(cursors.Add(cursor), $"cursor {cursor} repeated");
        }
        return (ids, pages);
    }

    private static async Task<List<string>> Ids(HttpResponseMessage response) =>
        (await response.ReadJsonAsync(HttpStatusCode.OK)).AsArray().Select(d => (string)d!["deviceId"]!).ToList();
}
