using System.Net;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>PUT without If-Match (create) and GET of one device over HTTPS, as the Node and C# SDKs call them.</summary>
public sealed class DeviceCreateAndGetTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private readonly HttpClient _http = registry.Client;

    // Node's create() body, captured on the wire: empty keys mean "generate" (docs/wire-contract.md §3).
    private static string NodeCreateBody(string id) =>
        Json(new { deviceId = id, status = "enabled", authentication = new { type = "sas", symmetricKey = new { primaryKey = "", secondaryKey = "" } } });

    [Fact]
    public async Task Create_answers_200_with_the_device_and_two_generated_32_byte_keys()
    {
        using var response = await _http.PutDeviceAsync("create-keys", NodeCreateBody("create-keys"));

        var device = await response.ReadDeviceAsync(HttpStatusCode.OK);
        Assert.Equal("create-keys", (string?)device["deviceId"]);
        Assert.Equal("enabled", (string?)device["status"]);
        Assert.Equal("sas", (string?)device["authentication"]!["type"]);
        var primary = (string)device["authentication"]!["symmetricKey"]!["primaryKey"]!;
        var secondary = (string)device["authentication"]!["symmetricKey"]!["secondaryKey"]!;
        Assert.Equal(32, Convert.FromBase64String(primary).Length);
        Assert.Equal(32, Convert.FromBase64String(secondary).Length);
        Assert.NotEqual(primary, secondary);
    }

    [Fact]
    public async Task Create_answers_a_quoted_etag_header_equal_to_the_body_etag()
    {
        using var response = await _http.PutDeviceAsync("create-etag", NodeCreateBody("create-etag"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var device = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var etag = (string?)device["etag"];
        Assert.False(string.IsNullOrEmpty(etag));
        Assert.Equal($"\"{etag}\"", response.Headers.GetValues("ETag").Single());
    }

    [Fact]
    public async Task Create_answers_application_json_with_utf8_charset()
    {
        using var response = await _http.PutDeviceAsync("create-content-type", NodeCreateBody("create-content-type"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(JsonContentType, response.Content.Headers.ContentType?.ToString());
    }

    [Fact]
    public async Task Create_answers_every_field_of_the_iot_hub_device_schema()
    {
        var device = await _http.CreateDeviceAsync("create-schema", NodeCreateBody("create-schema"));

        string[] fields =
        [
            "deviceId", "generationId", "etag", "connectionState", "status", "statusReason", "connectionStateUpdatedTime",
            "statusUpdatedTime", "lastActivityTime", "cloudToDeviceMessageCount", "authentication", "capabilities",
            "deviceScope", "parentScopes",
        ];
        Assert.All(fields, f => Assert.True(device.ContainsKey(f), $"missing {f}: {device.ToJsonString()}"));
        Assert.False(string.IsNullOrEmpty((string?)device["generationId"]));
        Assert.Equal("Disconnected", (string?)device["connectionState"]);
        Assert.Equal(0, (int)device["cloudToDeviceMessageCount"]!);
    }

    [Fact]
    public async Task Create_keeps_the_keys_the_caller_gives()
    {
        var primary = Convert.ToBase64String(Enumerable.Range(0, 16).Select(i => (byte)i).ToArray());
        var secondary = Convert.ToBase64String(Enumerable.Range(0, 64).Select(i => (byte)(255 - i)).ToArray());
        var body = Json(new { deviceId = "create-given-keys", authentication = new { symmetricKey = new { primaryKey = primary, secondaryKey = secondary } } });

        var device = await _http.CreateDeviceAsync("create-given-keys", body);

        Assert.Equal(primary, (string?)device["authentication"]!["symmetricKey"]!["primaryKey"]);
        Assert.Equal(secondary, (string?)device["authentication"]!["symmetricKey"]!["secondaryKey"]);
    }

    [Fact]
    public async Task Create_with_a_body_without_deviceId_registers_the_path_id()
    {
        var device = await _http.CreateDeviceAsync("create-no-body-id", Json(new { status = "disabled" }));

        Assert.Equal("create-no-body-id", (string?)device["deviceId"]);
        Assert.Equal("disabled", (string?)device["status"]);
    }

    [Fact]
    public async Task Get_answers_200_with_the_device_as_created_and_its_etag_header()
    {
        var created = await _http.CreateDeviceAsync("get-existing", NodeCreateBody("get-existing"));

        using var response = await _http.GetDeviceAsync("get-existing");

        var device = await response.ReadDeviceAsync(HttpStatusCode.OK);
        AssertSameJson(created, device);
    }

    [Fact]
    public async Task Get_of_a_missing_device_answers_404_DeviceNotFound_in_the_legacy_error_shape()
    {
        using var response = await _http.GetDeviceAsync("get-missing");

        var body = await response.AssertIotHubErrorAsync(HttpStatusCode.NotFound, "DeviceNotFound");
        Assert.Equal(new[] { "Message", "ExceptionMessage" }, body.Select(p => p.Key));
        // Node reads the message from the second ';'-segment of Message (docs/wire-contract.md §6).
        Assert.Contains("get-missing", ((string)body["Message"]!).Split(';')[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_without_if_match_on_an_existing_device_answers_409_DeviceAlreadyExists_and_changes_nothing()
    {
        var created = await _http.CreateDeviceAsync("create-twice");

        using var response = await _http.PutDeviceAsync("create-twice", Json(new { deviceId = "create-twice", status = "disabled" }));

        await response.AssertIotHubErrorAsync(HttpStatusCode.Conflict, "DeviceAlreadyExists");
        AssertSameJson(created, await _http.GetDeviceJsonAsync("create-twice"));
    }
}
