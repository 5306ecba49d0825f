using System.Net;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Http;

/// <summary>
/// Read-only Device fields in a request body are ignored (docs/wire-contract.md §1): the C# SDK sends a whole Device, with
/// default dates and the etag it read, and none of that may reach the registry.
/// </summary>
public sealed class ReadOnlyFieldTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private const string Never = "0001-01-01T00:00:00Z";

    private readonly HttpClient _http = registry.Client;

    private static JsonObject WithReadOnlyFields(string id) => new()
    {
        ["deviceId"] = id,
        ["generationId"] = "123456789012345678",
        ["etag"] = "MQ==",
        ["connectionState"] = "Connected",
        ["connectionStateUpdatedTime"] = "2020-01-02T03:04:05Z",
        ["statusUpdatedTime"] = "2020-01-02T03:04:05Z",
        ["lastActivityTime"] = "2020-01-02T03:04:05Z",
        ["cloudToDeviceMessageCount"] = 42,
        ["status"] = "enabled",
    };

    [Fact]
    public async Task Read_only_fields_in_a_create_body_are_ignored()
    {
        var device = await _http.CreateDeviceAsync("readonly-create", WithReadOnlyFields("readonly-create").ToJsonString());

        Assert.NotEqual("123456789012345678", (string?)device["generationId"]);
        Assert.NotEqual("MQ==", (string?)device["etag"]);
        Assert.Equal("Disconnected", (string?)device["connectionState"]);
        Assert.Equal(Never, (string?)device["connectionStateUpdatedTime"]);
        Assert.Equal(Never, (string?)device["lastActivityTime"]);
        Assert.NotEqual("2020-01-02T03:04:05Z", (string?)device["statusUpdatedTime"]);
        Assert.Equal(0, (int)device["cloudToDeviceMessageCount"]!);
    }

    [Fact]
    public async Task Read_only_fields_in_an_update_body_change_nothing_the_registry_owns()
    {
        var created = await _http.CreateDeviceAsync("readonly-update");
        var body = WithReadOnlyFields("readonly-update");
        body["statusReason"] = "changed";

        using var response = await _http.PutDeviceAsync("readonly-update", body.ToJsonString(), "\"*\"");

        var updated = await response.ReadDeviceAsync(HttpStatusCode.OK);
        Assert.Equal("changed", (string?)updated["statusReason"]);
        Assert.NotEqual((string?)created["etag"], (string?)updated["etag"]);
        Assert.NotEqual("MQ==", (string?)updated["etag"]);
        foreach (var field in new[] { "generationId", "connectionState", "connectionStateUpdatedTime", "statusUpdatedTime", "lastActivityTime", "cloudToDeviceMessageCount" })
        {
            RegistryHttp.AssertSameJson(created[field], updated[field]);
        }
    }

    [Fact]
    public async Task A_csharp_sdk_style_device_with_default_dates_and_null_keys_creates_with_generated_keys()
    {
        var body = WithReadOnlyFields("readonly-csharp");
        foreach (var field in new[] { "connectionStateUpdatedTime", "statusUpdatedTime", "lastActivityTime" })
        {
            body[field] = "0001-01-01T00:00:00";
        }
        body["etag"] = null;
        body["authentication"] = new JsonObject
        {
            ["symmetricKey"] = new JsonObject { ["primaryKey"] = null, ["secondaryKey"] = null },
            ["x509Thumbprint"] = new JsonObject { ["primaryThumbprint"] = null, ["secondaryThumbprint"] = null },
            ["type"] = "sas",
        };

        var device = await _http.CreateDeviceAsync("readonly-csharp", body.ToJsonString());

        Assert.Equal(32, Convert.FromBase64String((string)device["authentication"]!["symmetricKey"]!["primaryKey"]!).Length);
        Assert.Equal("Disconnected", (string?)device["connectionState"]);
    }
}
