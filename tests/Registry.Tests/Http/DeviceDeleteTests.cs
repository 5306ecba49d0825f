using System.Net;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Http;

/// <summary>DELETE of one device over HTTPS (docs/wire-contract.md §5): 204, 412 on a stale etag, 404 when absent.</summary>
public sealed class DeviceDeleteTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private readonly HttpClient _http = registry.Client;

    [Theory]
    [InlineData("delete-quoted-wildcard", "\"*\"")]
    [InlineData("delete-bare-wildcard", "*")]
    [InlineData("delete-current-etag", "current")]
    public async Task Delete_with_a_matching_if_match_answers_204_with_no_body_and_the_device_is_gone(string id, string ifMatch)
    {
        var created = await _http.CreateDeviceAsync(id);

        using var response = await _http.DeleteDeviceAsync(id, ifMatch == "current" ? $"\"{created["etag"]}\"" : ifMatch);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        using var get = await _http.GetDeviceAsync(id);
        await get.AssertIotHubErrorAsync(HttpStatusCode.NotFound, "DeviceNotFound");
    }

    [Fact]
    public async Task Delete_without_if_match_is_unconditional()
    {
        await _http.CreateDeviceAsync("delete-unconditional");

        using var response = await _http.DeleteDeviceAsync("delete-unconditional");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        using var get = await _http.GetDeviceAsync("delete-unconditional");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Delete_with_a_stale_etag_answers_412_PreconditionFailed_and_changes_nothing()
    {
        var created = await _http.CreateDeviceAsync("delete-stale");
        using (var update = await _http.PutDeviceAsync("delete-stale", RegistryHttp.Json(new { deviceId = "delete-stale", statusReason = "moved on" }), "*"))
        {
            Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        }
        var current = await _http.GetDeviceJsonAsync("delete-stale");

        using var response = await _http.DeleteDeviceAsync("delete-stale", $"\"{created["etag"]}\"");

        await response.AssertIotHubErrorAsync(HttpStatusCode.PreconditionFailed, "PreconditionFailed");
        RegistryHttp.AssertSameJson(current, await _http.GetDeviceJsonAsync("delete-stale"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("\"*\"")]
    [InlineData("\"AAAAAAAAAAAA\"")]
    public async Task Delete_of_a_missing_device_answers_404_DeviceNotFound(string? ifMatch)
    {
        using var response = await _http.DeleteDeviceAsync("delete-missing", ifMatch);

        await response.AssertIotHubErrorAsync(HttpStatusCode.NotFound, "DeviceNotFound");
    }

    [Fact]
    public async Task A_recreated_device_has_a_new_generationId_and_the_old_etag_no_longer_matches()
    {
        var first = await _http.CreateDeviceAsync("delete-recreate");
        using (var delete = await _http.DeleteDeviceAsync("delete-recreate"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }
        var second = await _http.CreateDeviceAsync("delete-recreate");

        Assert.NotEqual((string?)first["generationId"], (string?)second["generationId"]);
        using var stale = await _http.DeleteDeviceAsync("delete-recreate", $"\"{first["etag"]}\"");
        await stale.AssertIotHubErrorAsync(HttpStatusCode.PreconditionFailed, "PreconditionFailed");
    }
}
