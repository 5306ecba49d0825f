using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Host;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// A two-silo test cluster with the registry's embedded storage whose grains' clock (the <see cref="TimeProvider"/> in DI)
/// is a <see cref="FakeTimeProvider"/> the test controls, so device timestamps are exact values, not "recent". Orleans'
/// own machinery (messaging, membership, the directory) stays on real time (<see cref="TestClocks.UseGrainClock"/>).
/// </summary>
public sealed class PresenceClusterFixture() : ClockedClusterFixture<PresenceClusterFixture.Configurator>("presence")
{
    public DateTime Now => Clock.GetUtcNow().UtcDateTime;

    public IDeviceGrain Device(string id) => Grains.GetGrain<IDeviceGrain>(id);

    public sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            ClusterClock.Use(siloBuilder);
            SiloConfiguration.ConfigureServices(siloBuilder, new RegistrySettings { IndexPartitions = RegistryClusterFixture.Partitions });
        }
    }
}
