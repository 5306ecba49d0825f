using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Host;

namespace Registry.Tests.Infrastructure;

/// <summary>A two-silo test cluster with the registry's embedded storage; 16 index partitions so paging crosses partitions.</summary>
public sealed class RegistryClusterFixture : IAsyncLifetime
{
    public const int Partitions = 16;

    public TestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.GrainFactory;

    public async ValueTask InitializeAsync() => Cluster = await DeployAsync<Configurator>("grains");

    /// <summary>Deploys a two-silo cluster with its own ClusterId and ServiceId, configured by <typeparamref name="TConfigurator"/>.</summary>
    public static async Task<TestCluster> DeployAsync<TConfigurator>(string prefix, Action<TestClusterBuilder>? configure = null)
        where TConfigurator : ISiloConfigurator, new()
    {
        var builder = new TestClusterBuilder(2);
        configure?.Invoke(builder);
        var id = Guid.NewGuid().ToString("N")[..12];
        builder.Options.ClusterId = $"{prefix}-{id}";
        builder.Options.ServiceId = $"{prefix}-{id}";
        builder.AddSiloBuilderConfigurator<TConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync().WaitAsync(RegistryTestHost.StartBound); // a start that never ends fails this fixture, named
        return cluster;
    }

    public async ValueTask DisposeAsync()
    {
        if (Cluster is null)
        {
            return; // its start failed, and that failure is the one reported
        }
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    public IDeviceGrain Device(string id) => Grains.GetGrain<IDeviceGrain>(id);

    public IDeviceRegistryGrain Registry => Grains.GetGrain<IDeviceRegistryGrain>(0);

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) =>
            SiloConfiguration.ConfigureServices(siloBuilder, new RegistrySettings { IndexPartitions = Partitions });
    }
}
