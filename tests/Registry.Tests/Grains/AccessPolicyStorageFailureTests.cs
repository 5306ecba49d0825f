using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Storage;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Gateway.Security;
using Registry.Grains;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Grains;

/// <summary>
/// The cluster's access policies when their storage fails. A write answered with a failure yet landed (a timeout on a
/// loaded machine): the grain must not keep an ETag that storage no longer has, or every later start and key
/// regeneration is refused (seen as a gateway that could not start in the full-restart failure test: EntityAlreadyExists
/// on accesspolicy/0). A read that meets slow storage while a durable start reads them (an Azurite stall right after a
/// <c>kill -9</c>): asked again instead of ending the start, which left a review's killed silo's outbox unswept (2026-12-07).
/// </summary>
public sealed class AccessPolicyStorageFailureTests
{
    private const string InnerStorage = "access-inner";
    private static readonly StorageFaults Faults = new();

    [Fact]
    public async Task A_first_store_that_failed_but_landed_is_the_clusters_set_and_a_regeneration_after_it_is_stored()
    {
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>("access");
        try
        {
            var grain = cluster.GrainFactory.GetGrain<IAccessPolicyGrain>(0);
            var first = Set("first-key");

            Faults.LandNextWriteLate();
            var failed = await Assert.ThrowsAnyAsync<Exception>(() => grain.Initialize(first));
            Assert.IsType<InjectedStorageException>(failed.InnerException ?? failed);
            await Faults.LandLateWriteAsync();

            // Another gateway proposes its own set: the one that landed is the cluster's, at version 1.
            var stored = await grain.Initialize(Set("second-key"));
            Assert.Equal("first-key", stored.Policies.Single().PrimaryKey);
            Assert.Equal(1, stored.Version);

            var regenerated = await grain.Regenerate(SharedAccessPolicy.OwnerKeyName, AccessKeyKind.Primary);
            Assert.Equal(2, regenerated.Version);
            Assert.NotEqual("first-key", regenerated.Policies.Single().PrimaryKey);
            Assert.Equal(regenerated.Policies.Single().PrimaryKey, (await grain.Get())!.Policies.Single().PrimaryKey);
        }
        finally
        {
            Faults.Reset();
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

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

    private static AccessPolicySet Set(string primaryKey) =>
        new([new AccessPolicyRecord(SharedAccessPolicy.OwnerKeyName, primaryKey, null, "RegistryWrite")], 0);

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings { IndexPartitions = RegistryClusterFixture.Partitions });
            // Registered after the registry's own memory storage, so the access grain reads and writes through the faults.
            silo.AddMemoryGrainStorage(InnerStorage);
            silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Access, (sp, _) => new FlakyGrainStorage(
                sp.GetRequiredKeyedService<IGrainStorage>(InnerStorage), Faults, sp.GetRequiredService<Orleans.Serialization.DeepCopier>()));
        }
    }
}
