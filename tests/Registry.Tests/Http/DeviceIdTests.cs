using System.Net;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// Device ids through a real request target (docs/wire-contract.md §1, §4): every allowed special character survives both
/// SDKs' encodings, ids are case-sensitive, and the 128-character limit holds over HTTP.
/// </summary>
public sealed class DeviceIdTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    public const string SpecialCharacters = "-:.+%_#*?!(),=@;$'";

    /// <summary>The id Node sent on the wire, with the exact path it produced (captured from the Node SDK; docs/wire-contract.md §1).</summary>
    public const string CapturedNodeId = "a-b:c.d+e%f_g#h*i?j!k(l)m,n=o@p;q$r'";
    public const string CapturedNodePath = "devices/a-b%3Ac.d%2Be%25f_g%23h*i%3Fj!k(l)m%2Cn%3Do%40p%3Bq%24r'";

    private readonly HttpClient _http = registry.Client;

    public static TheoryData<string> EachSpecialCharacter => new(SpecialCharacters.Select(c => c.ToString()));

    [Theory]
    [MemberData(nameof(EachSpecialCharacter))]
    public Task Id_with_a_special_character_round_trips_with_node_encodeURIComponent(string c) =>
        RoundTrip($"node{c}x{c}", Uri.EscapeDataString);

    [Theory]
    [MemberData(nameof(EachSpecialCharacter))]
    public Task Id_with_a_special_character_round_trips_with_csharp_WebUtility_UrlEncode(string c) =>
        RoundTrip($"csharp{c}x{c}", s => WebUtility.UrlEncode(s)!);

    [Fact]
    public async Task The_captured_node_id_round_trips_through_the_exact_path_node_sent()
    {
        using (var put = await _http.PutDeviceAsync(CapturedNodeId, Json(new { deviceId = CapturedNodeId }), ifMatch: null))
        {
            Assert.Equal(CapturedNodeId, (string?)(await put.ReadDeviceAsync(HttpStatusCode.OK))["deviceId"]);
        }
        using var get = await _http.GetAsync($"{CapturedNodePath}?{ApiVersion}");
        Assert.Equal(CapturedNodeId, (string?)(await get.ReadDeviceAsync(HttpStatusCode.OK))["deviceId"]);
        using var delete = await _http.SendAsync(HttpMethod.Delete, $"{CapturedNodePath}?{ApiVersion}", ifMatch: "\"*\"");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
    }

    [Fact]
    public async Task An_id_with_every_special_character_is_one_device_under_both_encodings()
    {
        const string id = "both" + SpecialCharacters;
        var created = await _http.CreateDeviceAsync(id);

        using var get = await _http.GetAsync($"devices/{WebUtility.UrlEncode(id)}?{ApiVersion}");

        AssertSameJson(created, await get.ReadDeviceAsync(HttpStatusCode.OK));
    }

    [Fact]
    public async Task Percent_escapes_written_in_an_id_stay_literal_text()
    {
        // "a%2Fb" is a valid id (%, 2, F are allowed); on the wire it is a%252Fb and must not become "a/b".
        var created = await _http.CreateDeviceAsync("literal%2Fescape%23");

        Assert.Equal("literal%2Fescape%23", (string?)created["deviceId"]);
        AssertSameJson(created, await _http.GetDeviceJsonAsync("literal%2Fescape%23"));
        using var get = await _http.GetDeviceAsync("literal/escape#");
        await get.AssertIotHubErrorAsync(HttpStatusCode.BadRequest, "ArgumentInvalid");
    }

    [Fact]
    public async Task Ids_differing_only_in_case_are_two_devices()
    {
        var upper = await _http.CreateDeviceAsync("Dev1", Json(new { deviceId = "Dev1", status = "enabled" }));
        var lower = await _http.CreateDeviceAsync("dev1", Json(new { deviceId = "dev1", status = "disabled" }));

        Assert.NotEqual((string?)upper["etag"], (string?)lower["etag"]);
        Assert.Equal("enabled", (string?)(await _http.GetDeviceJsonAsync("Dev1"))["status"]);
        Assert.Equal("disabled", (string?)(await _http.GetDeviceJsonAsync("dev1"))["status"]);
        using var list = await _http.GetAsync($"devices?{ApiVersion}");
        var ids = (await list.ReadJsonAsync(HttpStatusCode.OK)).AsArray().Select(d => (string?)d!["deviceId"]).ToList();
        Assert.Contains("Dev1", ids);
        Assert.Contains("dev1", ids);
    }

    [Fact]
    public async Task An_id_of_128_characters_is_accepted()
    {
        var id = "max-" + new string('x', 124);

        var device = await _http.CreateDeviceAsync(id);

        Assert.Equal(id, (string?)device["deviceId"]);
        AssertSameJson(device, await _http.GetDeviceJsonAsync(id));
    }

    [Fact]
    public async Task An_id_of_129_characters_answers_400_ArgumentInvalid_and_creates_nothing()
    {
        var id = "over-" + new string('x', 124);
        var before = await _http.StatisticsAsync();

        using var response = await _http.PutDeviceAsync(id, Json(new { deviceId = id }));

        await response.AssertIotHubErrorAsync(HttpStatusCode.BadRequest, "ArgumentInvalid");
        AssertSameJson(before, await _http.StatisticsAsync());
        using var list = await _http.GetAsync($"devices?{ApiVersion}");
        Assert.DoesNotContain((await list.ReadJsonAsync(HttpStatusCode.OK)).AsArray(), d => ((string?)d!["deviceId"])!.StartsWith("over-", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(8)]
    [InlineData(128)]
    public async Task An_id_with_a_trailing_line_feed_answers_400_ArgumentInvalid_and_creates_nothing(int length)
    {
        var stem = "nl-" + new string('x', length - 3);
        var before = await _http.StatisticsAsync();

        using var response = await _http.SendAsync(HttpMethod.Put, $"devices/{stem}%0A?{ApiVersion}", Json(new { deviceId = stem + "\n" }));

        await response.AssertIotHubErrorAsync(HttpStatusCode.BadRequest, "ArgumentInvalid");
        AssertSameJson(before, await _http.StatisticsAsync());
        using var list = await _http.GetAsync($"devices?{ApiVersion}");
        Assert.DoesNotContain((await list.ReadJsonAsync(HttpStatusCode.OK)).AsArray(), d => ((string?)d!["deviceId"])!.StartsWith("nl-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bulk_refuses_the_ids_dot_dot_dot_and_a_trailing_line_feed_and_creates_nothing()
    {
        var before = await _http.StatisticsAsync();

        using var response = await _http.BulkAsync("""
            [{"id":".","importMode":"create"},{"id":"..","importMode":"create"},{"id":"bnl\n","importMode":"create"}]
            """);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadAsStringAsync());
        Assert.Equal(3, System.Text.Json.Nodes.JsonNode.Parse(errors)!["errors"]!.AsArray().Count(e => (string?)e!["errorCode"] == "ArgumentInvalid"));
        AssertSameJson(before, await _http.StatisticsAsync());
    }

    /// <summary>Create, read, update, list and delete one id, every request addressing it with <paramref name="encode"/>.</summary>
    private async Task RoundTrip(string id, Func<string, string> encode)
    {
        var path = $"devices/{encode(id)}?{ApiVersion}";

        using var put = await _http.SendAsync(HttpMethod.Put, path, Json(new { deviceId = id }));
        var created = await put.ReadDeviceAsync(HttpStatusCode.OK);
        Assert.Equal(id, (string?)created["deviceId"]);

        using var get = await _http.GetAsync(path);
        AssertSameJson(created, await get.ReadDeviceAsync(HttpStatusCode.OK));

        using var update = await _http.SendAsync(HttpMethod.Put, path, Json(new { deviceId = id, status = "disabled" }), $"\"{created["etag"]}\"");
        Assert.Equal("disabled", (string?)(await update.ReadDeviceAsync(HttpStatusCode.OK))["status"]);

        using var list = await _http.GetAsync($"devices/?{ApiVersion}");
        Assert.Contains((await list.ReadJsonAsync(HttpStatusCode.OK)).AsArray(), d => (string?)d!["deviceId"] == id);

        using var delete = await _http.SendAsync(HttpMethod.Delete, path, ifMatch: "\"*\"");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var gone = await _http.GetAsync(path);
        await gone.AssertIotHubErrorAsync(HttpStatusCode.NotFound, "DeviceNotFound");
    }
}
