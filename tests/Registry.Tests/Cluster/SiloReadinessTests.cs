using System.Net;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Cluster;

/// <summary>
/// Silo and gateway processes whose readiness must say what is wrong, and only that: a silo advertising an address
/// that is not this machine's (which Orleans would keep Active, the others reaching it over its own connections while
/// clients could not), and a gateway whose cluster answers while storage is down.
/// </summary>
public sealed class SiloReadinessTests(AzuriteFixture azurite)
{
    /// <summary>How long a refused start may take (a start that is not refused runs until killed).</summary>
    private static readonly TimeSpan RefusalBound = TimeSpan.FromSeconds(60);

    [Fact(Timeout = 240_000)]
    public async Task A_silo_advertising_an_address_of_no_interface_of_this_machine_exits_with_code_1_saying_so_and_the_running_silos_stay_ready()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = new RegistryClusterProcesses(azurite.ConnectionString);
        var management = FreePorts.Take(1)[0];
        await cluster.StartSiloAsync(ct, $"--Registry:Observability:Port={management}");
        // Another loopback address is an address of this machine (Linux routes all of 127/8 to lo): accepted.
        await cluster.StartSiloAsync(ct, "--Registry:AdvertisedAddress=127.0.0.2");

        // 192.0.2.1 (TEST-NET-1) is on no interface here.
        var foreign = cluster.StartSiloProcess("--Registry:AdvertisedAddress=192.0.2.1");
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(RefusalBound);
        int exitCode;
        try
        {
            exitCode = await foreign.WaitForExitAsync(bounded.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            Assert.Fail($"the silo advertising 192.0.2.1 still runs after {RefusalBound.TotalSeconds} s:\n{foreign.Output}");
            throw;
        }

        Assert.Equal(1, exitCode);
        var line = Assert.Single(foreign.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("Registry:AdvertisedAddress=192.0.2.1 is not an address of this machine", line, StringComparison.Ordinal);
        // It never joined: the running silos still count two active silos and are ready.
        using var probe = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{management}/") };
        using var ready = await probe.GetAsync("readyz", ct);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync(ct));
        var client = await cluster.ClientAsync(ct);
        var hosts = await client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        Assert.Equal(["127.0.0.1", "127.0.0.2"], hosts.Keys.Select(h => h.Endpoint.Address.ToString()).Order(StringComparer.Ordinal));
    }

    [Fact(Timeout = 240_000)]
    public async Task With_storage_stopped_a_gateways_readyz_says_storage_is_not_reachable_and_not_that_the_cluster_did_not_answer()
    {
        var ct = TestContext.Current.CancellationToken;
        // Azurite of its own, since it is stopped.
        var storage = await AzuriteServer.StartAsync(ct);
        try
        {
            await using var cluster = new RegistryClusterProcesses(storage.ConnectionString);
            await cluster.StartSiloAsync(ct);
            var gateway = await cluster.StartGatewayAsync(ct, observed: true);
            using var probe = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{gateway.ManagementPort}/") };
            using (var ready = await probe.GetAsync("readyz", ct))
            {
                Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync(ct));
            }

            await storage.StopAsync(ct);

            using var down = await probe.GetAsync("readyz", ct);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
            Assert.Equal("Unhealthy\nstorage: storage is not reachable", await down.Content.ReadAsStringAsync(ct));
        }
        finally
        {
            await storage.DisposeAsync();
        }
    }
}
