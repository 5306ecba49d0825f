using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Registry.Abstractions;
using Registry.Grains.Devices;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Durability;

/// <summary>
/// Device presence against real Azure Storage (Azurite): written behind in batches, never per heartbeat, never
/// touching the identity's ETag, and shown again after a restart of the registry (sessions do not survive one).
/// </summary>
public sealed class PresenceDurabilityTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task After_a_restart_GET_shows_the_last_persisted_activity_disconnected_with_the_same_etag()
    {
        var settings = Settings(persistSeconds: 3600); // only the clean stop writes: what the test sees is that write
        string dataFolder;
        string lastActivity;
        string etag;
        string disconnectedAt;
        var id = $"pres-{Guid.NewGuid():N}"[..17];
        await using (var first = await RegistryTestHost.StartAsync(settings))
        {
            dataFolder = first.DataFolder;
            using var owner = first.CreateClient();
            var key = (string)(await owner.CreateDeviceAsync(id))["authentication"]!["symmetricKey"]!["primaryKey"]!;
            using var device = first.CreateDeviceClient(id, key);
            var grain = first.Services.GetRequiredService<IGrainFactory>().GetGrain<IDeviceGrain>(id);
            var session = new DeviceSession(Guid.NewGuid(), null, DeviceKeyFingerprint.Of(key));
            await grain.Connect(session);
            for (var i = 0; i < 10; i++)
            {
                using var sent = await device.PostAsync($"devices/{id}/messages/events?{ApiVersion}", new StringContent("{}", Encoding.UTF8));
                Assert.Equal(HttpStatusCode.NoContent, sent.StatusCode);
            }
            var before = await owner.GetDeviceJsonAsync(id);
            Assert.Equal("Connected", (string?)before["connectionState"]);
            lastActivity = (string)before["lastActivityTime"]!;
            etag = (string)before["etag"]!;
            // Review, stop 32: when the device last disconnected is presence too; it read "never" after a new activation.
            await grain.Disconnect(session.SessionId);
            disconnectedAt = (string)(await owner.GetDeviceJsonAsync(id))["connectionStateUpdatedTime"]!;
            Assert.NotEqual("0001-01-01T00:00:00Z", disconnectedAt);
            Assert.Equal(0, first.Services.GetRequiredService<PresenceWriter>().RecordsWritten);
        }

        await using var second = await RegistryTestHost.StartAsync(settings, dataFolder);
        using var again = second.CreateClient();
        var after = await again.GetDeviceJsonAsync(id);

        Assert.Equal(lastActivity, (string?)after["lastActivityTime"]);
        Assert.Equal("Disconnected", (string?)after["connectionState"]);
        Assert.Equal(disconnectedAt, (string?)after["connectionStateUpdatedTime"]);
        Assert.Equal(etag, (string?)after["etag"]);
    }

    [Fact]
    public async Task The_writer_writes_one_row_per_active_device_in_partition_batches()
    {
        await using var host = await RegistryTestHost.StartAsync(Settings(persistSeconds: 3600));
        using var owner = host.CreateClient();
        var grains = host.Services.GetRequiredService<IGrainFactory>();
        var writer = host.Services.GetRequiredService<PresenceWriter>();
        var ids = Enumerable.Range(0, 250).Select(i => $"batch-{i}").ToArray();
        foreach (var chunk in ids.Chunk(100))
        {
            using var response = await owner.BulkAsync(Json(chunk.Select(id => new { id, importMode = "create" })));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        for (var beat = 0; beat < 3; beat++)
        {
            Assert.All(await grains.GetGrain<IHeartbeatBatchGrain>(0).Heartbeat(ids), a => Assert.Equal(DeviceAccess.Granted, a));
        }

        await writer.FlushAsync();

        Assert.Equal(ids.Length, writer.RecordsWritten);
        // Two partitions (IndexPartitions=2): at most ceil(n/100) transactions per partition.
        Assert.InRange(writer.Writes, 3, 4);
    }

    private Dictionary<string, string?> Settings(int persistSeconds)
    {
        var prefix = "pres" + Guid.NewGuid().ToString("N")[..8];
        return new Dictionary<string, string?>(azurite.DurableSettings(prefix))
        {
            ["Registry:IndexPartitions"] = "2",
            ["Registry:PresencePersistSeconds"] = persistSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
    }
}
