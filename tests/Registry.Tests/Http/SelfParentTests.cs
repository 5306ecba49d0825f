using System.Net;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// IoT Hub refuses an edge device named as its own parent: its own <c>deviceScope</c> in its <c>parentScopes</c> is
/// 400 ArgumentInvalid, by PUT or by bulk, and the device stays as it was.
/// </summary>
public sealed class SelfParentTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private readonly HttpClient _http = registry.Client;

    [Fact]
    public async Task Put_naming_the_edge_devices_own_scope_as_parent_answers_400_and_changes_nothing()
    {
        var edge = await _http.CreateDeviceAsync("self-parent-put", Json(new { deviceId = "self-parent-put", capabilities = new { iotEdge = true } }));
        var ownScope = (string)edge["deviceScope"]!;

        using var response = await _http.PutDeviceAsync("self-parent-put",
            Json(new { deviceId = "self-parent-put", capabilities = new { iotEdge = true }, parentScopes = new[] { ownScope } }), "*");

        await response.AssertIotHubErrorAsync(HttpStatusCode.BadRequest, "ArgumentInvalid");
        AssertSameJson(edge, await _http.GetDeviceJsonAsync("self-parent-put"));
    }

    [Fact]
    public async Task Put_making_a_former_edge_device_its_own_parent_answers_400_and_changes_nothing()
    {
        var edge = await _http.CreateDeviceAsync("self-parent-leaf", Json(new { deviceId = "self-parent-leaf", capabilities = new { iotEdge = true } }));
        var ownScope = (string)edge["deviceScope"]!;

        using var response = await _http.PutDeviceAsync("self-parent-leaf",
            Json(new { deviceId = "self-parent-leaf", capabilities = new { iotEdge = false }, deviceScope = ownScope, parentScopes = new[] { ownScope } }), "*");

        await response.AssertIotHubErrorAsync(HttpStatusCode.BadRequest, "ArgumentInvalid");
        AssertSameJson(edge, await _http.GetDeviceJsonAsync("self-parent-leaf"));
    }

    [Theory]
    [InlineData("upper-case scheme")]
    [InlineData("trailing space")]
    public async Task Put_naming_the_own_scope_with_another_scheme_case_or_a_trailing_space_answers_400_and_changes_nothing(string variant)
    {
        var id = variant == "trailing space" ? "self-parent-space" : "self-parent-case";
        var edge = await _http.CreateDeviceAsync(id, Json(new { deviceId = id, capabilities = new { iotEdge = true } }));
        var ownScope = (string)edge["deviceScope"]!;
        const string scheme = "ms-azure-iot-edge://";
        var parent = variant == "trailing space" ? ownScope + " " : scheme.ToUpperInvariant() + ownScope[scheme.Length..];

        using var response = await _http.PutDeviceAsync(id,
            Json(new { deviceId = id, capabilities = new { iotEdge = true }, parentScopes = new[] { parent } }), "*");

        await response.AssertIotHubErrorAsync(HttpStatusCode.BadRequest, "ArgumentInvalid");
        AssertSameJson(edge, await _http.GetDeviceJsonAsync(id));
    }

    [Fact]
    public async Task A_scope_differing_from_the_own_scope_only_in_the_id_case_names_another_device_and_is_accepted()
    {
        var edge = await _http.CreateDeviceAsync("self-parent-idcase", Json(new { deviceId = "self-parent-idcase", capabilities = new { iotEdge = true } }));
        var other = ((string)edge["deviceScope"]!).Replace("self-parent-idcase", "SELF-PARENT-IDCASE", StringComparison.Ordinal);

        using var response = await _http.PutDeviceAsync("self-parent-idcase",
            Json(new { deviceId = "self-parent-idcase", capabilities = new { iotEdge = true }, parentScopes = new[] { other } }), "*");

        var updated = await response.ReadDeviceAsync(HttpStatusCode.OK);
        Assert.Equal(other, (string?)updated["parentScopes"]![0]);
    }

    [Theory]
    [InlineData("update")]
    [InlineData("createOrUpdate")]
    public async Task Bulk_item_naming_the_edge_devices_own_scope_as_parent_fails_ArgumentInvalid_and_changes_nothing(string importMode)
    {
        var id = $"self-parent-bulk-{importMode.ToLowerInvariant()}";
        var edge = await _http.CreateDeviceAsync(id, Json(new { deviceId = id, capabilities = new { iotEdge = true } }));
        var ownScope = (string)edge["deviceScope"]!;

        using var response = await _http.BulkAsync(Json(new[]
        {
            new { id, importMode, capabilities = new { iotEdge = true }, parentScopes = new[] { ownScope } },
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var result = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("ArgumentInvalid", (string?)result["errors"]![0]!["errorCode"]);
        AssertSameJson(edge, await _http.GetDeviceJsonAsync(id));
    }

    [Fact]
    public async Task An_edge_device_may_still_name_another_edge_device_as_parent()
    {
        var parent = await _http.CreateDeviceAsync("self-parent-other", Json(new { deviceId = "self-parent-other", capabilities = new { iotEdge = true } }));
        await _http.CreateDeviceAsync("self-parent-child", Json(new { deviceId = "self-parent-child", capabilities = new { iotEdge = true } }));

        using var response = await _http.PutDeviceAsync("self-parent-child",
            Json(new { deviceId = "self-parent-child", capabilities = new { iotEdge = true }, parentScopes = new[] { (string)parent["deviceScope"]! } }), "*");

        var child = await response.ReadDeviceAsync(HttpStatusCode.OK);
        Assert.Equal((string)parent["deviceScope"]!, (string?)child["parentScopes"]![0]);
    }
}
