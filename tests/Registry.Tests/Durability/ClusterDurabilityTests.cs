using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Durability;

/// <summary>
/// Two registry processes forming one cluster through Azure Table membership (Azurite): a device written through
/// either gateway is one device grain in the cluster, and everything acknowledged survives stopping both silos.
/// </summary>
public sealed class ClusterDurabilityTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task Two_silos_share_one_registry_and_a_restart_of_both_loses_no_acknowledged_write()
    {
        var service = "clu" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>
        {
            ["Registry:StorageConnectionString"] = azurite.ConnectionString,
            ["Registry:StoragePrefix"] = service,
            ["Registry:ServiceId"] = service,
            ["Registry:ClusterId"] = service,
        };
        var ids = Enumerable.Range(0, 40).Select(i => $"cluster-{i}#{(i % 2 == 0 ? "a" : "b")}").ToArray();
        var written = new Dictionary<string, JsonObject>(StringComparer.Ordinal);

        await using (var first = await RegistryTestHost.StartAsync(settings))
        await using (var second = await RegistryTestHost.StartAsync(settings))
        {
            // The second silo joined the first through the membership table: one cluster of two.
            var hosts = await second.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
            Assert.Equal(2, hosts.Count);

            using var viaFirst = first.CreateClient();
            using var viaSecond = second.CreateClient();
            for (var i = 0; i < ids.Length; i++)
            {
                var http = i % 2 == 0 ? viaFirst : viaSecond;
                var put = await http.PutAsJsonAsync(DevicePath(ids[i]), new { deviceId = ids[i] });
                Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            }

            // Creating through one gateway what the other created is a conflict.
            var again = await viaSecond.PutAsJsonAsync(DevicePath(ids[0]), new { deviceId = ids[0] });
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);

            // Update through the gateway that did not create the device; both gateways then read the same device, which
            // two activations of one id (one stale) could not do.
            for (var i = 0; i < ids.Length; i += 3)
            {
                var http = i % 2 == 0 ? viaSecond : viaFirst;
                var request = new HttpRequestMessage(HttpMethod.Put, DevicePath(ids[i]))
                {
                    Content = JsonContent.Create(new { deviceId = ids[i], status = "disabled", statusReason = "moved" }),
                };
                request.Headers.TryAddWithoutValidation("If-Match", "\"*\"");
                Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
            }
            foreach (var id in ids)
            {
                var fromFirst = await viaFirst.GetFromJsonAsync<JsonObject>(DevicePath(id));
                var fromSecond = await viaSecond.GetFromJsonAsync<JsonObject>(DevicePath(id));
                Assert.True(JsonNode.DeepEquals(fromFirst, fromSecond), id);
                written[id] = fromFirst!;
            }
        }

        await using var restarted = await RegistryTestHost.StartAsync(settings);
        using var client = restarted.CreateClient();
        foreach (var (id, device) in written)
        {
            var after = await client.GetFromJsonAsync<JsonObject>(DevicePath(id));
            Assert.True(JsonNode.DeepEquals(device, after), $"{id}: {device.ToJsonString()} != {after?.ToJsonString()}");
        }
        var stats = await client.GetFromJsonAsync<JsonObject>("statistics/devices");
        Assert.Equal(ids.Length, (long)stats!["totalDeviceCount"]!);
        Assert.Equal(ids.Where((_, i) => i % 3 == 0).Count(), (long)stats["disabledDeviceCount"]!);
    }
}
