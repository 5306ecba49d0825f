using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Registry.Abstractions;
using Registry.Grains.Heartbeats;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Durability;

/// <summary>
/// Heartbeat monitoring against real Azure Storage (Azurite): a device's override and the monitor's watched set survive a
/// restart of every silo; the identity's ETag is not touched by either.
/// </summary>
public sealed class HeartbeatDurabilityTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task A_device_override_and_the_watched_set_survive_a_restart_of_every_silo()
    {
        var prefix = "hbd" + Guid.NewGuid().ToString("N")[..8];
        var settings = azurite.DurableSettings(prefix);
        // '#' and '/' are not allowed in Azure Table keys as they are: the store escapes them as the index does.
        var ids = new[] { "hbd-plain", "hbd-a#b", "hbd-a%2Fb" };
        var path = (string id) => $"devices/{Uri.EscapeDataString(id)}/heartbeat?{ApiVersion}";
        var etags = new Dictionary<string, string?>();
        string dataFolder;

        await using (var first = await RegistryTestHost.StartAsync(settings))
        {
            dataFolder = first.DataFolder;
            using var http = first.CreateClient();
            foreach (var id in ids)
            {
                etags[id] = (string?)(await http.CreateDeviceAsync(id))["etag"];
                using var put = await http.SendAsync(HttpMethod.Put, path(id), """{"intervalSeconds":120,"graceSeconds":15}""");
                Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            }
        }

        await using var restarted = await RegistryTestHost.StartAsync(settings, dataFolder);
        using var client = restarted.CreateClient();
        var grains = restarted.Services.GetRequiredService<IGrainFactory>();
        foreach (var id in ids)
        {
            using var get = await client.GetAsync(path(id));
            var heartbeat = (await get.ReadJsonAsync(HttpStatusCode.OK)).AsObject();
            Assert.Equal(("on", "device", 120, 15), ((string?)heartbeat["monitoring"], (string?)heartbeat["source"], (int?)heartbeat["intervalSeconds"], (int?)heartbeat["graceSeconds"]));
            Assert.Equal(etags[id], (string?)(await client.GetDeviceJsonAsync(id))["etag"]);
            var partition = DevicePartitioner.PartitionOf(id, 16);
            Assert.True(await grains.GetGrain<IHeartbeatMonitorGrain>(partition).IsWatching(id), id);
        }
    }
}
