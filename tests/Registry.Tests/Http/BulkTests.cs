using System.Net;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// <c>POST /devices</c> with ExportImportDevice items (docs/wire-contract.md §9): 200 when every item
/// succeeded, 400 with the failed items otherwise (the good ones stay applied), whole-request refusals apply nothing.
/// </summary>
public sealed class BulkTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private readonly HttpClient _http = registry.Client;

    private static string Items(IEnumerable<object> items) => Json(items.ToArray());

    private static IEnumerable<object> Creates(string prefix, int count) =>
        Enumerable.Range(0, count).Select(i => new { id = $"{prefix}-{i}", importMode = "create", status = "enabled" });

    [Fact]
    public async Task Bulk_create_of_valid_devices_answers_200_isSuccessful_and_registers_them_with_generated_keys()
    {
        using var response = await _http.BulkAsync(Items(Creates("bulk-ok", 3)));

        var result = (await response.ReadJsonAsync(HttpStatusCode.OK)).AsObject();
        Assert.True((bool)result["isSuccessful"]!);
        Assert.Empty(result["errors"]!.AsArray());
        Assert.Empty(result["warnings"]!.AsArray());
        foreach (var i in Enumerable.Range(0, 3))
        {
            var device = await _http.GetDeviceJsonAsync($"bulk-ok-{i}");
            Assert.Equal(32, Convert.FromBase64String((string)device["authentication"]!["symmetricKey"]!["primaryKey"]!).Length);
        }
    }

    [Fact]
    public async Task Bulk_post_to_devices_with_a_trailing_slash_is_the_same_operation()
    {
        using var response = await _http.BulkAsync(Items(Creates("bulk-slash", 2)), path: "devices/");

        Assert.True((bool)(await response.ReadJsonAsync(HttpStatusCode.OK))["isSuccessful"]!);
        await _http.GetDeviceJsonAsync("bulk-slash-1");
    }

    [Fact]
    public async Task Bulk_of_exactly_100_devices_is_accepted()
    {
        var before = await _http.StatisticsAsync();

        using var response = await _http.BulkAsync(Items(Creates("bulk-hundred", 100)));

        Assert.True((bool)(await response.ReadJsonAsync(HttpStatusCode.OK))["isSuccessful"]!);
        Assert.Equal(before.Count("totalDeviceCount") + 100, (await _http.StatisticsAsync()).Count("totalDeviceCount"));
    }

    [Fact]
    public async Task Bulk_with_a_failing_item_answers_400_with_that_error_and_applies_the_good_items()
    {
        var existing = await _http.CreateDeviceAsync("bulk-partial-existing");
        var items = Creates("bulk-partial", 2).Append(new { id = "bulk-partial-existing", importMode = "create", status = "disabled" });

        using var response = await _http.BulkAsync(Items(items));

        Assert.Equal("BulkRegistryOperationFailure", response.Headers.GetValues(ErrorCodeHeader).Single());
        var result = (await response.ReadJsonAsync(HttpStatusCode.BadRequest)).AsObject();
        Assert.False((bool)result["isSuccessful"]!);
        var error = Assert.Single(result["errors"]!.AsArray())!;
        Assert.Equal("bulk-partial-existing", (string?)error["deviceId"]);
        Assert.Equal("DeviceAlreadyExists", (string?)error["errorCode"]);
        Assert.Equal("create", (string?)error["operation"]);
        Assert.False(string.IsNullOrEmpty((string?)error["errorStatus"]));
        await _http.GetDeviceJsonAsync("bulk-partial-0");
        await _http.GetDeviceJsonAsync("bulk-partial-1");
        AssertSameJson(existing, await _http.GetDeviceJsonAsync("bulk-partial-existing"));
    }

    [Fact]
    public async Task Bulk_with_more_than_100_items_answers_413_TooManyDevices_and_applies_nothing()
    {
        var before = await _http.StatisticsAsync();

        using var response = await _http.BulkAsync(Items(Creates("bulk-too-many", 101)));

        await response.AssertIotHubErrorAsync(HttpStatusCode.RequestEntityTooLarge, "TooManyDevices");
        AssertSameJson(before, await _http.StatisticsAsync());
        using var get = await _http.GetDeviceAsync("bulk-too-many-0");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Bulk_defining_a_device_twice_answers_400_DeviceDefinedMultipleTimes_and_applies_nothing()
    {
        var before = await _http.StatisticsAsync();
        var items = Creates("bulk-dup", 3).Append(new { id = "bulk-dup-1", importMode = "delete", status = "enabled" });

        using var response = await _http.BulkAsync(Items(items));

        await response.AssertIotHubErrorAsync(HttpStatusCode.BadRequest, "DeviceDefinedMultipleTimes");
        AssertSameJson(before, await _http.StatisticsAsync());
        using var get = await _http.GetDeviceAsync("bulk-dup-0");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Bulk_update_and_delete_in_node_casing_with_a_lowercase_etag_apply()
    {
        var updated = await _http.CreateDeviceAsync("bulk-node-update");
        var deleted = await _http.CreateDeviceAsync("bulk-node-delete");
        // Node renames deviceId to id, writes PascalCase modes and the device's own "etag" (docs/wire-contract.md §9).
        var items = new JsonArray(
            new JsonObject { ["id"] = "bulk-node-update", ["etag"] = (string?)updated["etag"], ["importMode"] = "UpdateIfMatchETag", ["status"] = "disabled" },
            new JsonObject { ["id"] = "bulk-node-delete", ["etag"] = (string?)deleted["etag"], ["importMode"] = "DeleteIfMatchETag", ["status"] = "enabled" });

        using var response = await _http.BulkAsync(items.ToJsonString());

        Assert.True((bool)(await response.ReadJsonAsync(HttpStatusCode.OK))["isSuccessful"]!);
        Assert.Equal("disabled", (string?)(await _http.GetDeviceJsonAsync("bulk-node-update"))["status"]);
        using var get = await _http.GetDeviceAsync("bulk-node-delete");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Bulk_update_with_a_stale_etag_fails_that_item_with_PreconditionFailed_and_changes_nothing()
    {
        var created = await _http.CreateDeviceAsync("bulk-stale");
        using (var touch = await _http.PutDeviceAsync("bulk-stale", Json(new { deviceId = "bulk-stale", statusReason = "moved on" }), "*"))
        {
            Assert.Equal(HttpStatusCode.OK, touch.StatusCode);
        }
        var current = await _http.GetDeviceJsonAsync("bulk-stale");
        var items = new[] { new { id = "bulk-stale", eTag = $"\"{created["etag"]}\"", importMode = "updateIfMatchETag", status = "disabled" } };

        using var response = await _http.BulkAsync(Json(items));

        var error = Assert.Single((await response.ReadJsonAsync(HttpStatusCode.BadRequest))["errors"]!.AsArray())!;
        Assert.Equal(("PreconditionFailed", "updateIfMatchETag"), ((string?)error["errorCode"], (string?)error["operation"]));
        AssertSameJson(current, await _http.GetDeviceJsonAsync("bulk-stale"));
    }
}
