using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Events;
using Registry.Host;

namespace Registry.Tests.Events;

/// <summary>
/// A two-silo test cluster with the registry's embedded storage and the routes <typeparamref name="TRoutes"/> names;
/// its client (a client app) has the registry's stream provider, so it can subscribe to events.
/// </summary>
public class RoutedClusterFixture<TRoutes> : IAsyncLifetime where TRoutes : IRoutes
{
    public TestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public IDeviceGrain Device(string id) => Cluster.GrainFactory.GetGrain<IDeviceGrain>(id);

    public IDeviceRegistryGrain Registry => Cluster.GrainFactory.GetGrain<IDeviceRegistryGrain>(0);

    /// <summary>The sink a silo's grains hand their events to (the heartbeat monitor's path).</summary>
    public IRegistryEventSink Sink => Cluster.Primary is InProcessSiloHandle silo
        ? silo.SiloHost.Services.GetRequiredService<IRegistryEventSink>()
        : throw new InvalidOperationException("The test cluster's silos run in this process.");

    public async ValueTask InitializeAsync()
    {
        var builder = new TestClusterBuilder(2);
        var id = Guid.NewGuid().ToString("N")[..12];
        builder.Options.ClusterId = $"events-{id}";
        builder.Options.ServiceId = $"events-{id}";
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync().WaitAsync(global::Registry.Tests.Infrastructure.RegistryTestHost.StartBound);
    }

    public async ValueTask DisposeAsync()
    {
        if (Cluster is null)
        {
            return; // its start failed, and that failure is the one reported
        }
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    public static RegistrySettings Settings() => new()
    {
        IndexPartitions = 4,
        HostName = "contoso-hub.azure-devices.net",
        Routes = [.. TRoutes.Routes],
    };

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => SiloConfiguration.ConfigureServices(siloBuilder, Settings());
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder) => clientBuilder.AddMemoryStreams(RegistryStreams.Provider);
    }
}

/// <summary>The routes a <see cref="RoutedClusterFixture{TRoutes}"/> configures.</summary>
public interface IRoutes
{
    static abstract IEnumerable<RouteSettings> Routes { get; }
}

/// <summary>Both sources routed, as IoT Hub spells route sources.</summary>
public sealed class AllRoutes : IRoutes
{
    public static IEnumerable<RouteSettings> Routes =>
    [
        new() { Name = "lifecycle", Source = "DeviceLifecycleEvents" },
        new() { Name = "alerts", Source = "HeartbeatEvents" },
    ];
}

/// <summary>Heartbeat alerts routed; the lifecycle route exists but is disabled, so lifecycle events are not produced.</summary>
public sealed class HeartbeatRouteOnly : IRoutes
{
    public static IEnumerable<RouteSettings> Routes =>
    [
        new() { Name = "lifecycle", Source = "DeviceLifecycleEvents", Enabled = false },
        new() { Name = "alerts", Source = "heartbeatevents" },
    ];
}

/// <summary>No route: the silos run no event stream, while the fixture's client joins the registry's stream provider.</summary>
public sealed class NoRoutes : IRoutes
{
    public static IEnumerable<RouteSettings> Routes => [];
}
