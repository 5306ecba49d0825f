using Registry.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Registry.Host;

namespace Registry.Tests.Grains;

/// <summary>Idle device grains leave memory after <c>Registry:DeviceIdleMinutes</c>, not Orleans' general collection age.</summary>
public sealed class DeviceIdleTimeTests(RegistryClusterFixture fixture) : IClassFixture<RegistryClusterFixture>
{
    [Fact]
    public void Device_grains_are_collected_after_the_configured_idle_time()
    {
        var silo = ((InProcessSiloHandle)fixture.Cluster.Primary!).SiloHost.Services;
        // Orleans names the type after the class, less its "Grain" suffix (docs/storage.md §3).
        var shared = silo.GetRequiredService<GrainTypeSharedContextResolver>().GetComponents(GrainType.Create("device"));


        Assert.Equal(new RegistrySettings().DeviceIdleTime, shared.CollectionAgeLimit);
        Assert.NotEqual(new Orleans.Configuration.GrainCollectionOptions().CollectionAge, shared.CollectionAgeLimit);
    }
}
