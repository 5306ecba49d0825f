using System.Net;
using Registry.Gateway.Security;
using Registry.Tests.Infrastructure;
using Registry.Tests.Observability;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Cluster;

/// <summary>
/// A silo process (<c>Registry:Role=silo</c>) shows its own metrics and readiness on its management port: the device
/// grains count heartbeats where they run, so a gateway's metrics alone would never show them. (The dashboard a silo
/// collects for and a gateway shows: <see cref="GatewayDashboardTests"/>.)
/// </summary>
public sealed class SiloObservabilityTests(AzuriteFixture azurite)
{
    [Fact(Timeout = 180_000)]
    public async Task A_silo_with_a_management_port_is_ready_and_counts_the_heartbeats_its_device_grains_accept()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = new RegistryClusterProcesses(azurite.ConnectionString);
        var management = FreePorts.Take(1)[0];
        await cluster.StartSiloAsync(ct, $"--Registry:Observability:Port={management}");
        var gateway = await cluster.StartGatewayAsync(ct);
        var owner = await cluster.PolicyAsync(SharedAccessPolicy.OwnerKeyName, ct);
        using var service = gateway.Client(owner.KeyName, owner.PrimaryKey);
        using var probe = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{management}/") };

        using (var ready = await probe.GetAsync("readyz", ct))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync(ct));
        }
        var before = new ObservedRegistryFixture.Scrape(await probe.GetStringAsync("metrics", ct));

        var id = DeviceInputs.NewId("silo-metrics");
        var created = await service.CreateDeviceAsync(id);
        var key = (string)created["authentication"]!["symmetricKey"]!["primaryKey"]!;
        using var device = gateway.Client(() => SharedAccessSignature.Create($"{GatewayProcess.HostName}/devices/{id}", key, null, DateTimeOffset.UtcNow.AddHours(1)));
        for (var i = 0; i < 3; i++)
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, $"devices/{id}/messages/events?{ApiVersion}") { Content = Json("{\"n\":1}") };
            Assert.Equal(HttpStatusCode.NoContent, (await device.SendAsync(message, ct)).StatusCode);
        }

        var after = new ObservedRegistryFixture.Scrape(await probe.GetStringAsync("metrics", ct));
        Assert.Equal(3, after.Sum("registry_heartbeats_total") - before.Sum("registry_heartbeats_total"));
        Assert.Equal(1, after.Sum("registry_devices") - before.Sum("registry_devices"));
    }
}
