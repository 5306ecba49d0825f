using System.Net;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>PUT with If-Match (update) over HTTPS: RFC 7232 as both SDKs send it (docs/wire-contract.md §5).</summary>
public sealed class DeviceUpdateTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private readonly HttpClient _http = registry.Client;

    [Theory]
    [InlineData("update-quoted-wildcard", "\"*\"")]
    [InlineData("update-bare-wildcard", "*")]
    public async Task Put_with_a_wildcard_if_match_replaces_the_device_with_a_new_etag(string id, string ifMatch)
    {
        var created = await _http.CreateDeviceAsync(id);

        using var response = await _http.PutDeviceAsync(id, Json(new { deviceId = id, status = "disabled", statusReason = "parked" }), ifMatch);

        var updated = await response.ReadDeviceAsync(HttpStatusCode.OK);
        Assert.Equal("disabled", (string?)updated["status"]);
        Assert.Equal("parked", (string?)updated["statusReason"]);
        Assert.NotEqual((string?)created["etag"], (string?)updated["etag"]);
        AssertSameJson(updated, await _http.GetDeviceJsonAsync(id));
    }

    [Theory]
    [InlineData("update-current-etag", "\"{0}\"")]
    [InlineData("update-weak-etag", "W/\"{0}\"")]
    [InlineData("update-etag-in-list", "\"not-it\", \"{0}\"")]
    public async Task Put_with_if_match_naming_the_current_etag_replaces_the_device(string id, string ifMatchFormat)
    {
        var created = await _http.CreateDeviceAsync(id);

        using var response = await _http.PutDeviceAsync(id, Json(new { deviceId = id, status = "disabled" }),
            string.Format(ifMatchFormat, (string?)created["etag"]));

        var updated = await response.ReadDeviceAsync(HttpStatusCode.OK);
        Assert.Equal("disabled", (string?)updated["status"]);
        Assert.NotEqual((string?)created["etag"], (string?)updated["etag"]);
    }

    [Fact]
    public async Task Update_keeps_the_generationId_and_the_generated_keys()
    {
        var created = await _http.CreateDeviceAsync("update-keeps-generation");

        using var response = await _http.PutDeviceAsync("update-keeps-generation",
            Json(new { deviceId = "update-keeps-generation", status = "disabled" }), "\"*\"");

        var updated = await response.ReadDeviceAsync(HttpStatusCode.OK);
        Assert.Equal((string?)created["generationId"], (string?)updated["generationId"]);
        AssertSameJson(created["authentication"], updated["authentication"]);
    }

    [Fact]
    public async Task Put_with_a_stale_etag_answers_412_PreconditionFailed_and_changes_nothing()
    {
        var created = await _http.CreateDeviceAsync("update-stale");
        using (var first = await _http.PutDeviceAsync("update-stale", Json(new { deviceId = "update-stale", statusReason = "first" }), $"\"{created["etag"]}\""))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }
        var current = await _http.GetDeviceJsonAsync("update-stale");

        using var response = await _http.PutDeviceAsync("update-stale",
            Json(new { deviceId = "update-stale", status = "disabled", statusReason = "second" }), $"\"{created["etag"]}\"");

        await response.AssertIotHubErrorAsync(HttpStatusCode.PreconditionFailed, "PreconditionFailed");
        AssertSameJson(current, await _http.GetDeviceJsonAsync("update-stale"));
    }

    [Theory]
    [InlineData("\"*\"")]
    [InlineData("*")]
    [InlineData("\"AAAAAAAAAAAA\"")]
    public async Task Put_with_if_match_on_a_missing_device_answers_404_DeviceNotFound_and_creates_nothing(string ifMatch)
    {
        var id = $"update-missing-{ifMatch.Length}";

        using var response = await _http.PutDeviceAsync(id, Json(new { deviceId = id }), ifMatch);

        await response.AssertIotHubErrorAsync(HttpStatusCode.NotFound, "DeviceNotFound");
        using var get = await _http.GetDeviceAsync(id);
        await get.AssertIotHubErrorAsync(HttpStatusCode.NotFound, "DeviceNotFound");
    }

    [Fact]
    public async Task Node_update_with_the_device_it_read_and_a_quoted_wildcard_succeeds_whatever_the_body_etag()
    {
        var read = await _http.CreateDeviceAsync("update-node-style");
        read["status"] = "disabled";
        read["etag"] = "MQ==";

        using var response = await _http.PutDeviceAsync("update-node-style", read.ToJsonString(), "\"*\"");

        var updated = await response.ReadDeviceAsync(HttpStatusCode.OK);
        Assert.Equal("disabled", (string?)updated["status"]);
        Assert.NotEqual("MQ==", (string?)updated["etag"]);
    }

    [Fact]
    public async Task An_edge_device_put_back_with_iotEdge_false_loses_its_edge_scope()
    {
        var created = await _http.CreateDeviceAsync("update-edge-off", Json(new { deviceId = "update-edge-off", capabilities = new { iotEdge = true } }));
        Assert.StartsWith("ms-azure-iot-edge://update-edge-off-", (string?)created["deviceScope"], StringComparison.Ordinal);

        // As the SDKs do: the device as read, with only the capability changed.
        created["capabilities"]!["iotEdge"] = false;
        using var response = await _http.PutDeviceAsync("update-edge-off", created.ToJsonString(), "*");

        var updated = await response.ReadDeviceAsync(HttpStatusCode.OK);
        Assert.False((bool)updated["capabilities"]!["iotEdge"]!);
        Assert.Null((string?)updated["deviceScope"]);
        AssertSameJson(updated, await _http.GetDeviceJsonAsync("update-edge-off"));
    }
}
