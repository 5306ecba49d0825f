using System.Net;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary><c>GET /statistics/devices</c> (docs/wire-contract.md §10) follows every write; <c>/healthz</c> answers without the cluster's help.</summary>
public sealed class StatisticsAndHealthTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private readonly HttpClient _http = registry.Client;

    [Fact]
    public async Task Statistics_answer_the_three_counts_as_json()
    {
        using var response = await _http.GetAsync($"statistics/devices?{ApiVersion}");

        var statistics = (await response.ReadJsonAsync(HttpStatusCode.OK)).AsObject();
        Assert.Equal(new[] { "totalDeviceCount", "enabledDeviceCount", "disabledDeviceCount" }, statistics.Select(p => p.Key));
        Assert.Equal(statistics.Count("totalDeviceCount"), statistics.Count("enabledDeviceCount") + statistics.Count("disabledDeviceCount"));
    }

    [Fact]
    public async Task Statistics_count_creates_status_changes_and_deletes()
    {
        var start = await _http.StatisticsAsync();
        await _http.CreateDeviceAsync("stats-a");
        await _http.CreateDeviceAsync("stats-b");
        await _http.CreateDeviceAsync("stats-c", Json(new { deviceId = "stats-c", status = "disabled" }));
        AssertCounts(start, await _http.StatisticsAsync(), total: 3, enabled: 2, disabled: 1);

        using (var disable = await _http.PutDeviceAsync("stats-a", Json(new { deviceId = "stats-a", status = "disabled" }), "*"))
        {
            Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        }
        AssertCounts(start, await _http.StatisticsAsync(), total: 3, enabled: 1, disabled: 2);

        using (var delete = await _http.DeleteDeviceAsync("stats-c"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }
        AssertCounts(start, await _http.StatisticsAsync(), total: 2, enabled: 1, disabled: 1);
    }

    [Fact]
    public async Task Healthz_answers_200_Healthy_as_plain_text()
    {
        using var response = await _http.GetAsync("healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    private static void AssertCounts(JsonObject start, JsonObject now, long total, long enabled, long disabled) =>
        Assert.Equal(
            (total, enabled, disabled),
            (now.Count("totalDeviceCount") - start.Count("totalDeviceCount"),
             now.Count("enabledDeviceCount") - start.Count("enabledDeviceCount"),
             now.Count("disabledDeviceCount") - start.Count("disabledDeviceCount")));
}
