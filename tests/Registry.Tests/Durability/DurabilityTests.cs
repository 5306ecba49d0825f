using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Durability;

/// <summary>
/// docs/invariants.md §1 against real Azure Storage (Azurite): every acknowledged write survives stopping every silo,
/// including ids whose characters Azure Table keys forbid.
/// </summary>
public sealed class DurabilityTests(AzuriteFixture azurite)
{
    private static readonly string[] TrickyIds = ["dur-a#b", "dur-a?b", "dur-a_b", "dur-a%b", "dur-a%23b", "dur-Case", "dur-case", "dur-" + "-:.+%_#*?!(),=@;$'"];

    [Theory]
    [InlineData("Batched")]
    [InlineData("Table")]
    [InlineData("Blob")]
    public async Task Acknowledged_writes_survive_a_restart_of_every_silo(string deviceStorage)
    {
        var prefix = "dur" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>
        {
            ["Registry:StorageConnectionString"] = azurite.ConnectionString,
            ["Registry:StoragePrefix"] = prefix,
            ["Registry:DeviceStorage"] = deviceStorage,
            // The restarted registry must be the same service: Orleans keys grain state by ServiceId.
            ["Registry:ServiceId"] = prefix,
            ["Registry:ClusterId"] = prefix,
        };
        var ids = TrickyIds.Concat(Enumerable.Range(0, 20).Select(i => $"dur-plain-{i}")).ToArray();
        var deleted = ids.Where((_, i) => i % 4 == 3).ToHashSet();
        var updated = ids.Where((_, i) => i % 4 == 1).ToHashSet();

        Dictionary<string, JsonObject> before;
        string dataFolder;
        await using (var first = await RegistryTestHost.StartAsync(settings))
        {
            dataFolder = first.DataFolder;
            using var http = first.CreateClient();
            foreach (var id in ids)
            {
                var put = await http.PutAsJsonAsync(DevicePath(id), new { deviceId = id, status = "enabled" });
                Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            }
            foreach (var id in updated)
            {
                var request = new HttpRequestMessage(HttpMethod.Put, DevicePath(id))
                {
                    Content = JsonContent.Create(new { deviceId = id, status = "disabled", statusReason = "parked" }),
                };
                request.Headers.TryAddWithoutValidation("If-Match", "\"*\"");
                Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
            }
            foreach (var id in deleted)
            {
                Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync(DevicePath(id))).StatusCode);
            }
            before = await ReadAll(http, ids.Except(deleted));
        }

        await using var second = await RegistryTestHost.StartAsync(settings, dataFolder);
        using var again = second.CreateClient();
        var after = await ReadAll(again, ids.Except(deleted));

        Assert.Equal(before.Keys.Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
        foreach (var (id, device) in before)
        {
            Assert.True(JsonNode.DeepEquals(device, after[id]), $"{id}: {device.ToJsonString()} != {after[id].ToJsonString()}");
        }
        foreach (var id in updated.Except(deleted))
        {
            Assert.Equal("disabled", (string?)after[id]["status"]);
        }
        foreach (var id in deleted)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await again.GetAsync(DevicePath(id))).StatusCode);
        }

        var stats = await again.GetFromJsonAsync<JsonObject>("statistics/devices");
        Assert.Equal(ids.Length - deleted.Count, (long)stats!["totalDeviceCount"]!);
        Assert.Equal(updated.Except(deleted).Count(), (long)stats["disabledDeviceCount"]!);
        var listed = await again.GetFromJsonAsync<JsonArray>("devices");
        Assert.Equal(before.Keys.Order(StringComparer.Ordinal), listed!.Select(d => (string)d!["deviceId"]!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_bulk_of_100_creates_shares_device_row_transactions_within_the_request_slots_set_fails_only_its_existing_id_and_reads_back_whole_after_a_restart()
    {
        var prefix = "durb" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>(azurite.DurableSettings(prefix))
        {
            ["Registry:DeviceStorage"] = "Batched",
            // One index partition: every row shares one PartitionKey, so the bulk's concurrent writes can share transactions.
            ["Registry:IndexPartitions"] = "1",
            ["Registry:StorageRequestsInFlight"] = "3",
        };
        var ids = TrickyIds.Select(id => "bulk" + id).Concat(Enumerable.Range(0, 100 - TrickyIds.Length).Select(i => $"bulk-plain-{i}")).ToArray();
        var existing = ids[50];

        Dictionary<string, JsonObject> before;
        string dataFolder;
        await using (var first = await RegistryTestHost.StartAsync(settings))
        {
            dataFolder = first.DataFolder;
            using var http = first.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync(DevicePath(existing), new { deviceId = existing, status = "disabled" })).StatusCode);
            var rows = Assert.IsType<Registry.Host.DeviceRowStorage>(
                first.Services.GetRequiredKeyedService<Orleans.Storage.IGrainStorage>(Registry.Host.SiloConfiguration.DeviceStore));
            var (writesBefore, requestsBefore) = (rows.Writes, rows.Requests);
            Assert.Equal(3, rows.RequestsInFlight);
            Assert.Equal(3, Assert.IsType<Registry.Host.TableIndexStore>(
                first.Services.GetRequiredKeyedService<Registry.Grains.Index.IIndexStore>(Registry.Host.SiloConfiguration.IndexEntryStore)).RequestsInFlight);

            var bulk = await http.PostAsJsonAsync($"devices?{ApiVersion}", ids.Select(id => new { id, importMode = "create" }).ToArray());

            Assert.Equal(HttpStatusCode.BadRequest, bulk.StatusCode);
            var error = Assert.Single((await bulk.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsArray())!;
            Assert.Equal((existing, "DeviceAlreadyExists"), ((string?)error["deviceId"], (string?)error["errorCode"]));
            Assert.Equal(99, rows.Writes - writesBefore);
            Assert.True(rows.Requests - requestsBefore < 99, $"{rows.Requests - requestsBefore} requests for 99 device writes");
            before = await ReadAll(http, ids);
        }

        await using var second = await RegistryTestHost.StartAsync(settings, dataFolder);
        using var again = second.CreateClient();
        var after = await ReadAll(again, ids);

        foreach (var (id, device) in before)
        {
            Assert.True(JsonNode.DeepEquals(device, after[id]), $"{id}: {device.ToJsonString()} != {after[id].ToJsonString()}");
        }
        Assert.Equal("disabled", (string?)after[existing]["status"]);
        var stats = await again.GetFromJsonAsync<JsonObject>("statistics/devices");
        Assert.Equal(100, (long)stats!["totalDeviceCount"]!);
    }

    [Fact]
    public async Task A_bulk_of_100_creates_over_many_partitions_writes_its_index_entries_and_device_rows_under_few_partition_keys_and_reads_back_whole_after_a_restart()
    {
        var prefix = "durg" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>(azurite.DurableSettings(prefix))
        {
            ["Registry:DeviceStorage"] = "Batched",
            // The default partition count: the bulk's ids fall in ~80 partitions, which share 32 storage groups.
            ["Registry:IndexPartitions"] = "256",
            // What is asserted is where the writes went: a loaded machine must not turn items into ServiceUnavailable.
            ["Registry:StorageTimeoutSeconds"] = "120",
        };
        var ids = TrickyIds.Select(id => "bulkg" + id).Concat(Enumerable.Range(0, 100 - TrickyIds.Length).Select(i => $"bulkg-{i}")).ToArray();

        Dictionary<string, JsonObject> before;
        string dataFolder;
        await using (var first = await RegistryTestHost.StartAsync(settings))
        {
            dataFolder = first.DataFolder;
            using var http = first.CreateClient();
            var bulk = await http.PostAsJsonAsync($"devices?{ApiVersion}", ids.Select(id => new { id, importMode = "create" }).ToArray());

            Assert.Equal(HttpStatusCode.OK, bulk.StatusCode);
            // Keyed by partition, no two of the bulk's writes could share a transaction; in groups they meet in at most 32 keys.
            var partitions = ids.Select(id => Registry.Abstractions.DevicePartitioner.PartitionOf(id, 256)).Distinct().Count();
            Assert.True(partitions > Registry.Host.StorageGroups.DefaultCount, $"the ids fall in {partitions} partitions");
            var tables = new Azure.Data.Tables.TableServiceClient(azurite.ConnectionString);
            foreach (var table in new[] { "DeviceRows", "Index" })
            {
                var keys = new List<string>();
                await foreach (var entity in tables.GetTableClient(prefix + table).QueryAsync<Azure.Data.Tables.TableEntity>(select: ["PartitionKey", "RowKey"]))
                {
                    // The index partitions' claim rows (RowKey: the partition's number alone) are not entries.
                    if (table == "DeviceRows" || entity.RowKey.Contains('-', StringComparison.Ordinal))
                    {
                        keys.Add(entity.PartitionKey);
                    }
                }
                Assert.Equal(100, keys.Count);
                Assert.True(keys.Distinct().Count() <= Registry.Host.StorageGroups.DefaultCount, $"{table}: {keys.Distinct().Count()} PartitionKeys for ids in {partitions} partitions");
            }
            before = await ReadAll(http, ids);
        }

        await using var second = await RegistryTestHost.StartAsync(settings, dataFolder);
        using var again = second.CreateClient();
        var after = await ReadAll(again, ids);
        foreach (var (id, device) in before)
        {
            Assert.True(JsonNode.DeepEquals(device, after[id]), $"{id}: {device.ToJsonString()} != {after[id].ToJsonString()}");
        }
        var listed = await again.GetFromJsonAsync<JsonArray>("devices");
        Assert.Equal(ids.Order(StringComparer.Ordinal), listed!.Select(d => (string)d!["deviceId"]!).Order(StringComparer.Ordinal));
        var stats = await again.GetFromJsonAsync<JsonObject>("statistics/devices");
        Assert.Equal(100, (long)stats!["totalDeviceCount"]!);
    }

    private static async Task<Dictionary<string, JsonObject>> ReadAll(HttpClient http, IEnumerable<string> ids)
    {
        var result = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var id in ids)
        {
            var response = await http.GetAsync(DevicePath(id));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {id}: {(int)response.StatusCode}");
            var device = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.Equal(id, (string?)device["deviceId"]);
            result[id] = device;
        }
        return result;
    }
}
