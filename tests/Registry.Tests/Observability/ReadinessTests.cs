using System.Net;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Observability;

/// <summary>
/// <c>/readyz</c>: 200 while the silo is active and storage answers, 503 with the reason while storage is down, and 200
/// again once it is back, with nobody restarting the registry. Anonymous, and its answer names no account, address or key.
/// Each test runs its own Azurite, since it stops it.
/// </summary>
public sealed class ReadinessTests
{
    [Fact(Timeout = 240_000)]
    public async Task Readiness_is_503_naming_storage_while_storage_is_stopped_and_200_again_once_it_is_back()
    {
        var ct = TestContext.Current.CancellationToken;
        var storage = await AzuriteServer.StartAsync(Directory.CreateTempSubdirectory("azurite-").FullName, ct);
        try
        {
            var service = "rdy" + Guid.NewGuid().ToString("N")[..8];
            await using var host = await RegistryTestHost.StartAsync(new Dictionary<string, string?>
            {
                ["Registry:StorageConnectionString"] = storage.ConnectionString,
                ["Registry:StoragePrefix"] = service,
                ["Registry:ServiceId"] = service,
                ["Registry:ClusterId"] = service,
                ["Registry:StorageTimeoutSeconds"] = "2",
            });
            using var http = host.CreateAnonymousClient();
            using var ready = await http.GetAsync("readyz", ct);
            Assert.Equal((HttpStatusCode.OK, "Healthy"), (ready.StatusCode, await ready.Content.ReadAsStringAsync(ct)));

            await storage.StopAsync(ct);
            using var down = await http.GetAsync("readyz", ct);
            var reason = await down.Content.ReadAsStringAsync(ct);

            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
            Assert.Equal("Unhealthy\nstorage: storage is not reachable", reason);
            Assert.DoesNotContain(AzuriteServer.AccountName, reason, StringComparison.Ordinal);
            // Liveness does not follow storage: an orchestrator must not restart a registry storage took down.
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("healthz", ct)).StatusCode);

            storage = await storage.RestartAsync(ct);
            using var back = await http.GetAsync("readyz", ct);
            Assert.Equal((HttpStatusCode.OK, "Healthy"), (back.StatusCode, await back.Content.ReadAsStringAsync(ct)));
        }
        finally
        {
            await storage.DisposeAsync();
        }
    }
}
