using System.Net;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;
using static Registry.Tests.Jobs.JobBlobsHarness;

namespace Registry.Tests.Jobs;

/// <summary>
/// Export jobs against real Azurite containers: every device becomes one NDJSON ExportImportDevice line of one block blob,
/// keys included unless excluded; an import of that blob into an empty registry gives the same identities.
/// </summary>
public sealed class ExportJobTests(RegistryHostFixture registry, AzuriteFixture azurite) : IClassFixture<RegistryHostFixture>
{
    private readonly HttpClient _http = registry.Client;

    private async Task<Dictionary<string, JsonObject>> CreateDevicesAsync(string prefix, int count)
    {
        foreach (var batch in Enumerable.Range(0, count).Chunk(100))
        {
            using var response = await _http.BulkAsync(Json(batch.Select(i => new
            {
                id = $"{prefix}-{i}",
                importMode = "create",
                status = i % 3 == 0 ? "disabled" : "enabled",
                statusReason = i % 3 == 0 ? "off" : null,
            }).ToArray()));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var devices = new Dictionary<string, JsonObject>();
        foreach (var i in Enumerable.Range(0, count))
        {
            devices[$"{prefix}-{i}"] = await _http.GetDeviceJsonAsync($"{prefix}-{i}");
        }
        return devices;
    }

    private async Task<Dictionary<string, JsonObject>> ExportedAsync(string prefix, bool excludeKeys)
    {
        var (container, sas) = await NewContainerAsync(azurite);
        var job = await _http.RunJobAsync(new { type = "export", outputBlobContainerUri = sas, excludeKeysInExport = excludeKeys });
        Assert.Equal("completed", (string)job["status"]!);
        Assert.Equal(100, (int)job["progress"]!);
        return (await ReadLinesAsync(container, "devices.txt"))
            .Select(l => JsonNode.Parse(l)!.AsObject())
            .Where(l => ((string)l["id"]!).StartsWith(prefix + "-", StringComparison.Ordinal))
            .ToDictionary(l => (string)l["id"]!);
    }

    [Fact]
    public async Task Export_writes_every_device_once_as_an_ExportImportDevice_line_with_its_keys_etag_and_status()
    {
        var devices = await CreateDevicesAsync("exp-all", 250);

        var lines = await ExportedAsync("exp-all", excludeKeys: false);

        Assert.Equal(devices.Keys.Order(), lines.Keys.Order());
        foreach (var (id, device) in devices)
        {
            var line = lines[id];
            Assert.Equal((string)device["etag"]!, (string)line["eTag"]!);
            Assert.Equal((string)device["status"]!, (string)line["status"]!);
            Assert.Equal((string?)device["statusReason"], (string?)line["statusReason"]);
            Assert.Equal(device["authentication"]!.ToJsonString(), line["authentication"]!.ToJsonString());
            Assert.Null(line["importMode"]);
        }
    }

    [Fact]
    public async Task Export_with_excludeKeysInExport_writes_the_keys_as_null()
    {
        await CreateDevicesAsync("exp-nokeys", 5);

        var lines = await ExportedAsync("exp-nokeys", excludeKeys: true);

        Assert.Equal(5, lines.Count);
        Assert.All(lines.Values, l =>
        {
            Assert.Null((string?)l["authentication"]!["symmetricKey"]!["primaryKey"]);
            Assert.Null((string?)l["authentication"]!["symmetricKey"]!["secondaryKey"]);
            Assert.Equal("sas", (string)l["authentication"]!["type"]!);
        });
    }

    [Fact]
    public async Task Export_then_import_into_an_empty_registry_gives_identical_identities_keys_included()
    {
        var devices = await CreateDevicesAsync("exp-trip", 120);
        await using var empty = await ExportIntoEmptyRegistryAsync();
        using var http = empty.CreateClient();
        foreach (var (id, device) in devices)
        {
            AssertSameIdentity(device, await http.GetDeviceJsonAsync(id));
        }
        Assert.Equal((await _http.StatisticsAsync()).Count("totalDeviceCount"), (await http.StatisticsAsync()).Count("totalDeviceCount"));
    }

    [Fact]
    public async Task Export_then_import_into_an_empty_registry_keeps_edge_scopes_so_every_parent_link_still_resolves()
    {
        var gateway = await _http.CreateDeviceAsync("exp-edge-gw", Json(new { deviceId = "exp-edge-gw", capabilities = new { iotEdge = true } }));
        var gatewayScope = (string)gateway["deviceScope"]!;
        await _http.CreateDeviceAsync("exp-edge-leaf",
            Json(new { deviceId = "exp-edge-leaf", deviceScope = gatewayScope, parentScopes = new[] { gatewayScope } }));
        var nested = await _http.CreateDeviceAsync("exp-edge-nested",
            Json(new { deviceId = "exp-edge-nested", capabilities = new { iotEdge = true }, parentScopes = new[] { gatewayScope } }));
        var nestedScope = (string)nested["deviceScope"]!;
        await _http.CreateDeviceAsync("exp-edge-nested-leaf",
            Json(new { deviceId = "exp-edge-nested-leaf", deviceScope = nestedScope, parentScopes = new[] { nestedScope } }));
        string[] ids = ["exp-edge-gw", "exp-edge-leaf", "exp-edge-nested", "exp-edge-nested-leaf"];
        var devices = new Dictionary<string, JsonObject>();
        foreach (var id in ids)
        {
            devices[id] = await _http.GetDeviceJsonAsync(id);
        }
        await using var empty = await ExportIntoEmptyRegistryAsync();
        using var http = empty.CreateClient();
        var imported = new Dictionary<string, JsonObject>();
        foreach (var id in ids)
        {
            imported[id] = await http.GetDeviceJsonAsync(id);
            var device = devices[id];
            AssertSameIdentity(device, imported[id]);
            Assert.Equal((string?)device["deviceScope"], (string?)imported[id]["deviceScope"]);
            Assert.Equal(device["parentScopes"]!.ToJsonString(), imported[id]["parentScopes"]!.ToJsonString());
        }
        // The links resolve in the new registry: each child names the scope its parent holds there.
        var newGatewayScope = (string)imported["exp-edge-gw"]["deviceScope"]!;
        var newNestedScope = (string)imported["exp-edge-nested"]["deviceScope"]!;
        Assert.Equal(newGatewayScope, (string)imported["exp-edge-leaf"]["deviceScope"]!);
        Assert.Equal(newGatewayScope, (string)imported["exp-edge-leaf"]["parentScopes"]![0]!);
        Assert.Equal(newGatewayScope, (string)imported["exp-edge-nested"]["parentScopes"]![0]!);
        Assert.Equal(newNestedScope, (string)imported["exp-edge-nested-leaf"]["deviceScope"]!);
        Assert.Equal(newNestedScope, (string)imported["exp-edge-nested-leaf"]["parentScopes"]![0]!);
    }

    /// <summary>
    /// Exports this registry, imports the blob into a new, empty registry, and checks that import completed without an
    /// error line; the caller disposes the new registry.
    /// </summary>
    private async Task<RegistryTestHost> ExportIntoEmptyRegistryAsync()
    {
        var (container, sas) = await NewContainerAsync(azurite);
        var export = await _http.RunJobAsync(new { type = "export", outputBlobContainerUri = sas });
        Assert.Equal("completed", (string)export["status"]!);

        var empty = await RegistryTestHost.StartAsync();
        try
        {
            using var http = empty.CreateClient();
            var import = await http.RunJobAsync(new { type = "import", inputBlobContainerUri = sas, outputBlobContainerUri = sas });
            Assert.Equal("completed", (string)import["status"]!);
            Assert.Empty(await ReadLinesAsync(container, "importErrors.log"));
            return empty;
        }
        catch
        {
            await empty.DisposeAsync();
            throw;
        }
    }

    /// <summary>What an export carries and an import restores: keys, status and its reason, capabilities.</summary>
    private static void AssertSameIdentity(JsonObject device, JsonObject imported)
    {
        Assert.Equal(device["authentication"]!.ToJsonString(), imported["authentication"]!.ToJsonString());
        Assert.Equal((string)device["status"]!, (string)imported["status"]!);
        Assert.Equal((string?)device["statusReason"], (string?)imported["statusReason"]);
        Assert.Equal(device["capabilities"]!.ToJsonString(), imported["capabilities"]!.ToJsonString());
    }

    [Fact]
    public async Task Export_to_a_container_whose_SAS_lacks_write_permission_fails_with_a_reason()
    {
        await CreateDevicesAsync("exp-readonly", 3);
        var (container, sas) = await NewContainerAsync(azurite, Azure.Storage.Sas.BlobContainerSasPermissions.Read);

        var job = await _http.RunJobAsync(new { type = "export", outputBlobContainerUri = sas });

        Assert.Equal("failed", (string)job["status"]!);
        Assert.Contains("403", (string)job["failureReason"]!);
        Assert.False(await container.GetBlobClient("devices.txt").ExistsAsync());
    }
}
