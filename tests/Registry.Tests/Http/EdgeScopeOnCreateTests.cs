using System.Net;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// An edge device created with a <c>deviceScope</c> in its own form (<c>ms-azure-iot-edge://{id}-{generation}</c>, as
/// an export from another registry carries it) keeps it, so the children created with it still name their parent. Any
/// other scope is replaced by a new one, and an existing edge device's scope never changes. Bulk items, import lines and
/// PUT share the rule.
/// </summary>
public sealed class EdgeScopeOnCreateTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private readonly HttpClient _http = registry.Client;

    private static async Task<JsonObject> BulkResultAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        Assert.Equal(expected, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }

    [Fact]
    public async Task Bulk_create_of_an_edge_device_keeps_a_scope_in_its_own_form_and_the_child_in_the_same_request_resolves_to_it()
    {
        const string scope = "ms-azure-iot-edge://scope-bulk-gw-637000000000000001";

        using var response = await _http.BulkAsync(Json(new object[]
        {
            new { id = "scope-bulk-gw", importMode = "create", capabilities = new { iotEdge = true }, deviceScope = scope },
            new { id = "scope-bulk-leaf", importMode = "create", deviceScope = scope, parentScopes = new[] { scope } },
        }));

        Assert.True((bool)(await BulkResultAsync(response, HttpStatusCode.OK))["isSuccessful"]!);
        var gateway = await _http.GetDeviceJsonAsync("scope-bulk-gw");
        Assert.Equal(scope, (string)gateway["deviceScope"]!);
        Assert.NotEqual("637000000000000001", (string)gateway["generationId"]!);
        var leaf = await _http.GetDeviceJsonAsync("scope-bulk-leaf");
        Assert.Equal((string)gateway["deviceScope"]!, (string)leaf["deviceScope"]!);
        Assert.Equal((string)gateway["deviceScope"]!, (string)leaf["parentScopes"]![0]!);
    }

    [Theory]
    [InlineData("ms-azure-iot-edge://scope-other-637000000000000002")]
    [InlineData("ms-azure-iot-edge://scope-bulk-named-x-637000000000000003")]
    [InlineData("ms-azure-iot-edge://scope-bulk-named-")]
    [InlineData("caller-chosen")]
    public async Task Bulk_create_of_an_edge_device_with_a_scope_not_in_its_own_form_gets_a_new_scope_of_its_own(string given)
    {
        using var response = await _http.BulkAsync(Json(new[]
        {
            new { id = "scope-bulk-named", importMode = "createOrUpdate", capabilities = new { iotEdge = true }, deviceScope = given },
        }));

        Assert.True((bool)(await BulkResultAsync(response, HttpStatusCode.OK))["isSuccessful"]!);
        var device = await _http.GetDeviceJsonAsync("scope-bulk-named");
        Assert.Equal($"ms-azure-iot-edge://scope-bulk-named-{(string)device["generationId"]!}", (string)device["deviceScope"]!);
        using var deleted = await _http.DeleteDeviceAsync("scope-bulk-named", "*");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
    }

    [Fact]
    public async Task Bulk_create_naming_the_kept_scope_as_its_own_parent_fails_ArgumentInvalid_and_creates_nothing()
    {
        const string scope = "ms-azure-iot-edge://scope-bulk-self-637000000000000004";

        using var response = await _http.BulkAsync(Json(new[]
        {
            new { id = "scope-bulk-self", importMode = "create", capabilities = new { iotEdge = true }, deviceScope = scope, parentScopes = new[] { scope } },
        }));

        var result = await BulkResultAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("ArgumentInvalid", (string?)result["errors"]![0]!["errorCode"]);
        using var get = await _http.GetDeviceAsync("scope-bulk-self");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Put_creating_an_edge_device_keeps_a_scope_in_its_own_form_as_bulk_does()
    {
        const string scope = "ms-azure-iot-edge://scope-put-gw-637000000000000005";

        var created = await _http.CreateDeviceAsync("scope-put-gw",
            Json(new { deviceId = "scope-put-gw", capabilities = new { iotEdge = true }, deviceScope = scope }));

        Assert.Equal(scope, (string)created["deviceScope"]!);
        AssertSameJson(created, await _http.GetDeviceJsonAsync("scope-put-gw"));
    }

    [Fact]
    public async Task An_existing_edge_devices_scope_does_not_change_when_an_update_sends_another_scope_in_its_own_form()
    {
        var created = await _http.CreateDeviceAsync("scope-upd-gw", Json(new { deviceId = "scope-upd-gw", capabilities = new { iotEdge = true } }));

        using var response = await _http.BulkAsync(Json(new[]
        {
            new { id = "scope-upd-gw", importMode = "createOrUpdate", capabilities = new { iotEdge = true }, deviceScope = "ms-azure-iot-edge://scope-upd-gw-637000000000000006" },
        }));

        Assert.True((bool)(await BulkResultAsync(response, HttpStatusCode.OK))["isSuccessful"]!);
        Assert.Equal((string)created["deviceScope"]!, (string)(await _http.GetDeviceJsonAsync("scope-upd-gw"))["deviceScope"]!);
    }
}
