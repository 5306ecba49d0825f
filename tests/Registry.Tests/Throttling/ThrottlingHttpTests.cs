using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Registry.Abstractions;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Throttling;

/// <summary>
/// Throttling over real HTTPS on the real host. A limit of a few operations per hour stands in for a hub's quota, so
/// the budget cannot refill while a test runs: the refusals below depend on request counts, never on timing.
/// </summary>
public class ThrottlingHttpTests
{
    [Fact]
    public async Task Create_beyond_the_registry_limit_answers_429_ThrottlingException_with_Retry_After_and_creates_nothing()
    {
        await using var host = await StartThrottled("3/h");
        using var http = host.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await Create(http, "thr-1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"devices/thr-1?{ApiVersion}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"devices/?{ApiVersion}")).StatusCode);

        using var refused = await Create(http, "thr-2");

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("ThrottlingException", Assert.Single(refused.Headers.GetValues("iothub-errorcode")));
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {refused.Headers.RetryAfter}");
        Assert.Equal("application/json", refused.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        Assert.StartsWith("ErrorCode:ThrottlingException;", body.RootElement.GetProperty("Message").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("Tracking ID:", body.RootElement.GetProperty("ExceptionMessage").GetString(), StringComparison.Ordinal);
        Assert.Null(await host.Services.GetRequiredService<IGrainFactory>().GetGrain<IDeviceGrain>("thr-2").Get());
    }

    [Fact]
    public async Task Bulk_request_counts_as_one_registry_operation()
    {
        await using var host = await StartThrottled("3/h");
        using var http = host.CreateClient();
        var items = Enumerable.Range(0, 5).Select(i => new { id = $"thr-bulk-{i}", importMode = "create" }).ToArray();

        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync($"devices?{ApiVersion}", items)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"devices/thr-bulk-0?{ApiVersion}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"devices/thr-bulk-4?{ApiVersion}")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await http.GetAsync($"devices/thr-bulk-1?{ApiVersion}")).StatusCode);
    }

    [Fact]
    public async Task Liveness_is_never_throttled()
    {
        await using var host = await StartThrottled("1/h");
        using var http = host.CreateClient();
        await http.GetAsync($"devices/thr-missing?{ApiVersion}");
        Assert.Equal(HttpStatusCode.TooManyRequests, (await http.GetAsync($"devices/thr-missing?{ApiVersion}")).StatusCode);

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("healthz")).StatusCode);
        }
    }

    [Fact]
    public async Task Throttling_is_off_by_default()
    {
        await using var host = await RegistryTestHost.StartAsync();
        using var http = host.CreateClient();

        // More than an S1 hub's 100 registry operations a minute.
        for (var i = 0; i < 150; i++)
        {
            using var response = await http.GetAsync($"devices/thr-off?{ApiVersion}");
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
    }

    private static Task<RegistryTestHost> StartThrottled(string registryOperations) =>
        RegistryTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Registry:Throttling:Enabled"] = "true",
            ["Registry:Throttling:Tier"] = "S1",
            ["Registry:Throttling:Units"] = "1",
            ["Registry:Throttling:Overrides:RegistryOperations"] = registryOperations,
        });

    private static Task<HttpResponseMessage> Create(HttpClient http, string id) =>
        http.PutAsJsonAsync($"devices/{id}?{ApiVersion}", new { deviceId = id });
}
