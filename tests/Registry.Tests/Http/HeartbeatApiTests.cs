using System.Net;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// <c>GET/PUT /devices/{id}/heartbeat</c> and <c>GET /heartbeat/outages</c> on the real registry (no registry default
/// here: monitoring is off unless a device sets it). Bad bodies answer IoT Hub's error shape and change nothing.
/// </summary>
public sealed class HeartbeatApiTests(RegistryHostFixture fixture) : IClassFixture<RegistryHostFixture>
{
    private HttpClient Http => fixture.Client;

    private static string HeartbeatPath(string id) => $"devices/{Uri.EscapeDataString(id)}/heartbeat?{ApiVersion}";

    private async Task<JsonObject> GetHeartbeatAsync(string id)
    {
        using var response = await Http.GetAsync(HeartbeatPath(id));
        return (await response.ReadJsonAsync(HttpStatusCode.OK)).AsObject();
    }

    private async Task<JsonObject> PutHeartbeatAsync(string id, string json)
    {
        using var response = await Http.SendAsync(HttpMethod.Put, HeartbeatPath(id), json);
        return (await response.ReadJsonAsync(HttpStatusCode.OK)).AsObject();
    }

    private static async Task<string> NewIdAsync(HttpClient http, string prefix)
    {
        var id = DeviceInputs.NewId(prefix);
        await http.CreateDeviceAsync(id);
        return id;
    }

    [Fact]
    public async Task A_device_without_an_override_follows_the_registry_default_which_is_off_unless_configured()
    {
        var id = await NewIdAsync(Http, "hb-default");
        var heartbeat = await GetHeartbeatAsync(id);

        Assert.Equal(id, (string?)heartbeat["deviceId"]);
        Assert.Equal("off", (string?)heartbeat["monitoring"]);
        Assert.False((bool)heartbeat["watched"]!);
        Assert.Equal("registry", (string?)heartbeat["source"]);
        Assert.Null(heartbeat["intervalSeconds"]);
        Assert.Null(heartbeat["lastHeartbeatTime"]);
        Assert.False((bool)heartbeat["inOutage"]!);
        Assert.Null(heartbeat["outageSince"]);
    }

    [Fact]
    public async Task Put_sets_the_device_policy_without_changing_the_identity_etag_and_off_and_default_follow()
    {
        var id = await NewIdAsync(Http, "hb-put");
        var etag = (string?)(await Http.GetDeviceJsonAsync(id))["etag"];

        var set = await PutHeartbeatAsync(id, """{"intervalSeconds":120,"graceSeconds":30}""");
        Assert.Equal(("on", "device", 120, 30), ((string?)set["monitoring"], (string?)set["source"], (int?)set["intervalSeconds"], (int?)set["graceSeconds"]));
        Assert.True((bool)set["watched"]!); // a put arms the deadline at once
        Assert.True(JsonNode.DeepEquals(set, await GetHeartbeatAsync(id)));

        var off = await PutHeartbeatAsync(id, """{"monitoring":"off"}""");
        Assert.Equal(("off", false, "device"), ((string?)off["monitoring"], (bool?)off["watched"], (string?)off["source"]));

        var cleared = await PutHeartbeatAsync(id, """{"monitoring":"default"}""");
        Assert.Equal(("off", "registry"), ((string?)cleared["monitoring"], (string?)cleared["source"]));

        Assert.Equal(etag, (string?)(await Http.GetDeviceJsonAsync(id))["etag"]);
    }

    /// <summary>
    /// Hostile review, 2026-12-06: a PUT with <c>If-Match: "nomatch"</c> was applied. The setting has no ETag (the identity's
    /// is not its own), so an If-Match naming a tag, the identity's too, cannot match: 412 and nothing changes; <c>*</c> passes.
    /// </summary>
    [Theory]
    [InlineData("\"nomatch\"")]
    [InlineData("W/\"nomatch\"")]
    [InlineData("identity")]
    public async Task Put_with_an_if_match_naming_a_tag_answers_412_and_changes_nothing(string ifMatch)
    {
        var id = await NewIdAsync(Http, "hb-ifmatch");
        var before = await PutHeartbeatAsync(id, """{"intervalSeconds":40}""");
        var identityETag = (string)(await Http.GetDeviceJsonAsync(id))["etag"]!;
        var tag = ifMatch == "identity" ? $"\"{identityETag}\"" : ifMatch;

        using var refused = await Http.SendAsync(HttpMethod.Put, HeartbeatPath(id), """{"intervalSeconds":50}""", tag);

        await refused.AssertIotHubErrorAsync(412, "PreconditionFailed");
        var after = await GetHeartbeatAsync(id);
        Assert.Equal(40, (int?)after["intervalSeconds"]);
        Assert.True(JsonNode.DeepEquals(before, after));
        using var wildcard = await Http.SendAsync(HttpMethod.Put, HeartbeatPath(id), """{"intervalSeconds":50}""", "*");
        Assert.Equal(50, (int?)(await wildcard.ReadJsonAsync(HttpStatusCode.OK))["intervalSeconds"]);
    }

    [Fact]
    public async Task Put_with_an_if_match_for_a_device_not_registered_answers_404()
    {
        using var response = await Http.SendAsync(HttpMethod.Put, HeartbeatPath(DeviceInputs.NewId("hb-ifmatch-none")), """{"intervalSeconds":50}""", "\"x\"");

        await response.AssertIotHubErrorAsync(404, "DeviceNotFound");
    }

    [Theory]
    [InlineData("""{"intervalSeconds":99999999999}""", "intervalSeconds=99999999999 is out of range: use 1 to 86400.")]
    [InlineData("""{"intervalSeconds":10,"graceSeconds":1e400}""", "graceSeconds=1e400 is out of range: use 0 to 86400.")]
    [InlineData("""{"intervalSeconds":10,"graceSeconds":2.5}""", "graceSeconds=2.5 is not a whole number of seconds.")]
    public async Task A_number_out_of_range_or_not_whole_is_refused_naming_its_member_and_range(string body, string message)
    {
        var id = await NewIdAsync(Http, "hb-range");

        using var response = await Http.SendAsync(HttpMethod.Put, HeartbeatPath(id), body);

        var error = await response.AssertIotHubErrorAsync(400, "ArgumentInvalid");
        Assert.Contains(message, (string)error["Message"]!, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"intervalSeconds":1e1,"graceSeconds":5.0}""")]
    [InlineData("""{"intervalSeconds":10.000,"graceSeconds":0.5e1}""")]
    public async Task Put_takes_a_whole_number_of_seconds_in_any_JSON_number_form(string body)
    {
        var id = await NewIdAsync(Http, "hb-forms");

        var set = await PutHeartbeatAsync(id, body);

        Assert.Equal((10, 5), ((int?)set["intervalSeconds"], (int?)set["graceSeconds"]));
    }

    [Fact]
    public async Task Put_on_a_disabled_device_answers_the_stored_policy_and_that_the_device_is_disabled_so_not_monitored()
    {
        var id = DeviceInputs.NewId("hb-disabled");
        await Http.CreateDeviceAsync(id, Json(new { status = "disabled" }));

        var set = await PutHeartbeatAsync(id, """{"intervalSeconds":2}""");
        Assert.Equal(
            ("off", "device", 2, 0, "disabled"),
            ((string?)set["monitoring"], (string?)set["source"], (int?)set["intervalSeconds"], (int?)set["graceSeconds"], (string?)set["deviceStatus"]));
        Assert.True(JsonNode.DeepEquals(set, await GetHeartbeatAsync(id)));
    }

    [Theory]
    [InlineData("{}", "ArgumentInvalid")]
    [InlineData("""{"graceSeconds":5}""", "ArgumentInvalid")]
    [InlineData("""{"intervalSeconds":0}""", "ArgumentInvalid")]
    [InlineData("""{"intervalSeconds":86401}""", "ArgumentInvalid")]
    [InlineData("""{"intervalSeconds":10,"graceSeconds":-1}""", "ArgumentInvalid")]
    [InlineData("""{"intervalSeconds":10,"graceSeconds":86401}""", "ArgumentInvalid")]
    [InlineData("""{"monitoring":"off","intervalSeconds":5}""", "ArgumentInvalid")]
    [InlineData("""{"monitoring":"default","graceSeconds":5}""", "ArgumentInvalid")]
    [InlineData("""{"monitoring":"sometimes"}""", "ArgumentInvalid")]
    // Hostile review, stop 31: these were answered 200 with the last value or the misspelt member ignored.
    [InlineData("""{"intervalSeconds":30,"graceSecond":5}""", "ArgumentInvalid")]
    [InlineData("""{"intervalSeconds":30,"intervalSeconds":40}""", "ArgumentInvalid")]
    [InlineData("""{"monitoring":"off","Monitoring":"default"}""", "ArgumentInvalid")]
    [InlineData("""{"intervalSeconds":"ten"}""", "IotHubFormatError")]
    // Numbers that are not whole or beyond any range are invalid values, as 86401 is (hostile review, 2026-12-05: these
    // answered IotHubFormatError).
    [InlineData("""{"intervalSeconds":1.5}""", "ArgumentInvalid")]
    [InlineData("""{"intervalSeconds":99999999999}""", "ArgumentInvalid")]
    [InlineData("""{"intervalSeconds":10,"graceSeconds":-99999999999}""", "ArgumentInvalid")]
    [InlineData("""{"intervalSeconds":1e400}""", "ArgumentInvalid")]
    [InlineData("""{"intervalSeconds":1e1,"graceSeconds":2.5e0}""", "ArgumentInvalid")]
    [InlineData("""{"intervalSeconds":[10]}""", "IotHubFormatError")]
    [InlineData("not json", "IotHubFormatError")]
    [InlineData("", "ArgumentNull")]
    public async Task A_bad_body_answers_400_and_changes_nothing(string body, string code)
    {
        var id = await NewIdAsync(Http, "hb-bad");
        var before = await PutHeartbeatAsync(id, """{"intervalSeconds":300,"graceSeconds":60}""");

        using var response = await Http.SendAsync(HttpMethod.Put, HeartbeatPath(id), body);
        await response.AssertIotHubErrorAsync(400, code);

        Assert.True(JsonNode.DeepEquals(before, await GetHeartbeatAsync(id)));
    }

    [Fact]
    public async Task An_unknown_device_answers_404_DeviceNotFound_on_both_methods()
    {
        var id = DeviceInputs.NewId("hb-missing");
        using var get = await Http.GetAsync(HeartbeatPath(id));
        await get.AssertIotHubErrorAsync(404, "DeviceNotFound");
        using var put = await Http.SendAsync(HttpMethod.Put, HeartbeatPath(id), """{"intervalSeconds":60}""");
        await put.AssertIotHubErrorAsync(404, "DeviceNotFound");
        using var after = await Http.GetDeviceAsync(id);
        await after.AssertIotHubErrorAsync(404, "DeviceNotFound");
    }

    [Fact]
    public async Task Registry_read_may_read_a_policy_but_not_change_it()
    {
        var id = await NewIdAsync(Http, "hb-rights");
        using var reader = fixture.Host.CreateClient("registryRead");

        using var get = await reader.GetAsync(HeartbeatPath(id));
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        using var put = await reader.SendAsync(HttpMethod.Put, HeartbeatPath(id), """{"intervalSeconds":60}""");
        await put.AssertIotHubErrorAsync(401, "IotHubUnauthorizedAccess");
        Assert.Equal("off", (string?)(await GetHeartbeatAsync(id))["monitoring"]);
    }

    [Fact]
    public async Task The_outages_list_answers_a_json_array_and_refuses_a_bad_cursor()
    {
        using var list = await Http.GetAsync($"heartbeat/outages?{ApiVersion}");
        Assert.IsType<JsonArray>(await list.ReadJsonAsync(HttpStatusCode.OK));

        var request = new HttpRequestMessage(HttpMethod.Get, $"heartbeat/outages?{ApiVersion}");
        request.Headers.Add("x-ms-continuation", "not-a-cursor");
        using var bad = await Http.SendAsync(request);
        await bad.AssertIotHubErrorAsync(400, "ArgumentInvalid");

        var tooMany = new HttpRequestMessage(HttpMethod.Get, $"heartbeat/outages?{ApiVersion}");
        tooMany.Headers.Add("x-ms-max-item-count", "1001");
        using var refused = await Http.SendAsync(tooMany);
        await refused.AssertIotHubErrorAsync(400, "ArgumentInvalid");
    }
}
