using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Gateway.Security;
using Registry.Grains;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Grains;

/// <summary>
/// The cluster's access policies when their storage write is answered with a failure yet lands (a timeout on a loaded
/// machine): the grain must not keep an ETag that storage no longer has, or every later start and key regeneration is
/// refused (seen as a gateway that could not start in the full-restart failure test: EntityAlreadyExists on accesspolicy/0).
/// </summary>
public sealed class AccessPolicyWriteFailureTests
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

    private static AccessPolicySet Set(string primaryKey) =>
        new([new AccessPolicyRecord(SharedAccessPolicy.OwnerKeyName, primaryKey, null, "RegistryWrite")], 0);

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings { IndexPartitions = RegistryClusterFixture.Partitions });
            // Registered after the registry's own memory storage, so the access grain writes through the faults.
            silo.AddMemoryGrainStorage(InnerStorage);
            silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Access, (sp, _) => new FlakyGrainStorage(
                sp.GetRequiredKeyedService<IGrainStorage>(InnerStorage), Faults, sp.GetRequiredService<Orleans.Serialization.DeepCopier>()));
        }
    }
}
