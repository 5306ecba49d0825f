using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Storage;
using Orleans.TestingHost;
using Registry.Gateway.Security;
using Registry.Grains;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Grains;

/// <summary>
/// A durable start reads the cluster's shared access policies once its silo runs: storage that is slow for a moment then
/// (an Azurite stall right after a <c>kill -9</c>) is asked again instead of ending the start. A review's restart ended
/// "Storage did not answer while the registry started", leaving the killed silo's outbox unswept (2026-12-07).
/// </summary>
public sealed class AccessPolicyStartTests
{
    private const string InnerStorage = "access-start-inner";
    private static readonly StorageFaults Faults = new();

    [Fact(Timeout = 120_000)]
    public async Task A_start_whose_policy_read_meets_slow_storage_asks_again_and_starts_with_the_clusters_policies()
    {
        var ct = TestContext.Current.CancellationToken;
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>("access-start");
        try
        {
            Faults.FailNextReads(2, timeOut: true);
            var policies = new SharedAccessPolicies([]);
            using var start = new ClusterAccessPolicies(cluster.GrainFactory, policies, [], null, new RegistrySettings(), TimeProvider.System,
                NullLogger<ClusterAccessPolicies>.Instance, firstRetryPause: TimeSpan.FromMilliseconds(10));

            await start.StartAsync(ct);

            Assert.True(Faults.Reads >= 3, $"{Faults.Reads} reads");
            Assert.True(policies.TryGet(SharedAccessPolicy.OwnerKeyName, out _), "the cluster's policies are in force");
            await start.StopAsync(ct);
        }
        finally
        {
            Faults.Reset();
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings { IndexPartitions = RegistryClusterFixture.Partitions });
            // Registered after the registry's own memory storage, so the access grain reads through the faults.
            silo.AddMemoryGrainStorage(InnerStorage);
            silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Access, (sp, _) => new FlakyGrainStorage(
                sp.GetRequiredKeyedService<IGrainStorage>(InnerStorage), Faults));
        }
    }
}
