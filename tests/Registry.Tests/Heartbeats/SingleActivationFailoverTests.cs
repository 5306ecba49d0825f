using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Heartbeats;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Heartbeats;

/// <summary>
/// One device, one activation, across a silo failure. With Orleans' default (eventually consistent) grain directory, a
/// silo that dies takes a share of the directory with it: the survivors drop the activations registered there (their
/// last heartbeat with them), and a caller that looks a device up in that window can start a second activation beside
/// the first. The monitor then asked the second one, which heard no heartbeat, and announced a device that kept beating
/// through the first (seen once in the process-level silo-kill test). Orleans' test clusters run the strongly
/// consistent directory (the registry's silos do not: docs/invariants.md §11, a known gap), which rebuilds a dead silo's
/// range from the live activations: on it, a device on a surviving silo keeps its activation and its last heartbeat, no
/// device gets a second one, and the monitor announces none of them.
/// </summary>
public sealed class SingleActivationFailoverTests(AzuriteFixture azurite)
{
    private const int Devices = 90;
    private static readonly HeartbeatPolicy Policy = new(60, 30);

    private static readonly FakeTimeProvider Clock = new(DateTimeOffset.UtcNow);
    private static readonly CapturingEventSink Events = new();
    private static string s_connectionString = "";
    private static string s_prefix = "";

    [Fact]
    public async Task The_failure_detection_settings_reach_orleans_membership_so_an_operator_can_shorten_a_failover()
    {
        await using var host = await RegistryTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Registry:ProbeTimeoutSeconds"] = "2",
            ["Registry:MissedProbesLimit"] = "2",
            ["Registry:ResponseTimeoutSeconds"] = "7",
        });
        var membership = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Orleans.Configuration.ClusterMembershipOptions>>().Value;
        Assert.Equal((TimeSpan.FromSeconds(2), 2), (membership.ProbeTimeout, membership.NumMissedProbesLimit));
        var messaging = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Orleans.Configuration.SiloMessagingOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(7), messaging.ResponseTimeout);
    }

    /// <summary>
    /// A gateway's call that its silo forwarded to a silo that then died is answered only by the gateway's own Orleans
    /// response timeout: the setting must reach the gateway's client too, or its requests wait Orleans' 30 s regardless.
    /// </summary>
    [Fact]
    public async Task The_response_timeout_setting_reaches_a_gateways_orleans_client()
    {
        var data = Path.Combine(Directory.CreateTempSubdirectory("registry-gw-").FullName, "data");
        await using var gateway = Registry.Host.RegistryHost.Build(
        [
            .. Registry.Tests.Host.SecondStartTests.Arguments(data, FreePorts.Take(3)),
            "--Registry:Role=gateway",
            // A durable start checks that its storage answers before anything else: the class's Azurite.
            $"--Registry:StorageConnectionString={azurite.ConnectionString}",
            "--Registry:ResponseTimeoutSeconds=7",
        ]);

        var messaging = gateway.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Orleans.Configuration.ClientMessagingOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(7), messaging.ResponseTimeout);
    }

    [Fact(Timeout = 300_000)]
    public async Task Killing_a_silo_leaves_every_device_on_the_survivors_in_its_one_activation_with_its_last_heartbeat_and_announces_none()
    {
        var ct = TestContext.Current.CancellationToken;
        s_connectionString = azurite.ConnectionString;
        s_prefix = "one" + Guid.NewGuid().ToString("N")[..8];
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>(s_prefix, b => b.Options.InitialSilosCount = 3);
        try
        {
            var grains = cluster.GrainFactory;
            var management = grains.GetGrain<IManagementGrain>(0);
            var ids = Enumerable.Range(0, Devices).Select(i => $"one-{i:D3}-{Guid.NewGuid():N}").ToList();
            var beatAt = new Dictionary<string, DateTime>(StringComparer.Ordinal);
            foreach (var id in ids)
            {
                await grains.GetGrain<IDeviceGrain>(id).Create(DeviceInputs.Sas(id));
                Assert.Equal(DeviceAccess.Granted, await grains.GetGrain<IDeviceGrain>(id).Heartbeat());
                beatAt[id] = (await grains.GetGrain<IDeviceHeartbeatGrain>(id).GetHeartbeat()).LastHeartbeatTime!.Value;
            }
            var placement = new Dictionary<string, SiloAddress>(StringComparer.Ordinal);
            foreach (var id in ids)
            {
                placement[id] = (await management.GetActivationAddress(grains.GetGrain<IDeviceGrain>(id)))!;
            }

            // The victim is not the primary (the test cluster's client and membership seed); its share of the directory
            // covers about a third of the devices on the other two silos.
            var victim = cluster.SecondarySilos[0];
            var survivors = ids.Where(id => placement[id] != victim.SiloAddress).ToList();
            Assert.NotEmpty(survivors);
            await cluster.KillSiloAsync(victim);
            using (var bound = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                bound.CancelAfter(TimeSpan.FromMinutes(2));
                await SiloDeath.UntilSurvivorsSeeItDeadAsync(cluster, victim.SiloAddress, bound.Token);
            }

            // Each device on a survivor answers from the activation that heard its heartbeat, still where it was.
            foreach (var id in survivors)
            {
                var heartbeat = await AfterFailover(() => grains.GetGrain<IDeviceHeartbeatGrain>(id).GetHeartbeat());
                Assert.True(heartbeat.LastHeartbeatTime == beatAt[id],
                    $"{id} on a surviving silo lost its last heartbeat ({heartbeat.LastHeartbeatTime:O} instead of {beatAt[id]:O}): it was activated anew");
                Assert.Equal(placement[id], await management.GetActivationAddress(grains.GetGrain<IDeviceGrain>(id)));
            }

            // Minutes of fake time in which every surviving device beats and every monitor partition checks: none is announced.
            for (var minute = 0; minute < 4; minute++)
            {
                foreach (var id in survivors)
                {
                    Assert.Equal(DeviceAccess.Granted, await grains.GetGrain<IDeviceGrain>(id).Heartbeat());
                }
                Clock.Advance(TimeSpan.FromSeconds(30));
                for (var partition = 0; partition < RegistryClusterFixture.Partitions; partition++)
                {
                    await grains.GetGrain<IHeartbeatMonitorGrain>(partition).Check();
                }
            }
            Assert.All(survivors, id => Assert.Empty(Events.OpTypes(id)));
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>
    /// A read asked again if Orleans' response timeout ends it: a call the cluster's silos had in flight to the dead silo
    /// (the device asks its monitor partition, which may have been there) is answered only by that timeout, and a CI run
    /// (2026-12-04) saw the first survivor's read time out so, once in many runs. Asked again, it must come from the same
    /// activation: a second one would show a lost heartbeat or another silo, which the test still fails on.
    /// </summary>
    private static async Task<T> AfterFailover<T>(Func<Task<T>> read)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await read();
            }
            catch (TimeoutException e) when (attempt < 3)
            {
                TestContext.Current.SendDiagnosticMessage($"asked again after Orleans' response timeout: {e.Message}");
            }
        }
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo) =>
            DurableHeartbeatSilo.Configure(silo, Clock, Events, s_connectionString, s_prefix, Policy);
    }
}
