using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Events;
using Registry.Grains.Heartbeats;
using Registry.Host;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// A two-silo test cluster whose grains run on <see cref="Clock"/> and publish into <see cref="Events"/>, with the
/// registry default heartbeat policy <see cref="DefaultPolicy"/> (in-process silos share the static clock and sink).
/// </summary>
public sealed class HeartbeatClusterFixture : IAsyncLifetime
{
    public static readonly HeartbeatPolicy DefaultPolicy = new(60, 30);

    public static FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public static CapturingEventSink Events { get; } = new();

    /// <summary>Calls into monitor partitions, by method name and device id (the first argument), and the partitions' probes of device grains, as the silos received them.</summary>
    public static System.Collections.Concurrent.ConcurrentDictionary<(string Method, string DeviceId), int> MonitorCalls { get; } = new();

    public TestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.GrainFactory;

    public async ValueTask InitializeAsync() => Cluster = await RegistryClusterFixture.DeployAsync<Configurator>("heartbeats");

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

    public IDeviceHeartbeatGrain Heartbeat(string id) => Grains.GetGrain<IDeviceHeartbeatGrain>(id);

    public IHeartbeatMonitorGrain Monitor(string id) =>
        Grains.GetGrain<IHeartbeatMonitorGrain>(DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions));

    /// <summary>A new enabled device with an id of its own; <paramref name="accept"/>, if given, chooses among fresh ids.</summary>
    public async Task<string> NewDeviceAsync(string prefix, Func<string, bool>? accept = null)
    {
        string id;
        do
        {
            id = $"{prefix}-{Guid.NewGuid():N}";
        }
        while (accept is not null && !accept(id));
        await Device(id).Create(DeviceInputs.Sas(id));
        return id;
    }

    /// <summary>Moves the clock, then runs the device's monitor partition's check (as its timer does) and waits for it.</summary>
    public async Task AdvanceAndCheckAsync(string id, TimeSpan by)
    {
        Clock.Advance(by);
        await Monitor(id).Check();
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            silo.Services.UseGrainClock(Clock);
            silo.Services.AddSingleton<IRegistryEventSink>(Events);
            silo.AddIncomingGrainCallFilter(context =>
            {
                if (context.Grain is IHeartbeatMonitorGrain && context.Request.GetArgumentCount() > 0 && context.Request.GetArgument(0) is string deviceId)
                {
                    MonitorCalls.AddOrUpdate((context.InterfaceMethod.Name, deviceId), 1, (_, n) => n + 1);
                }
                else if (context.Grain is IMonitoredDevice device && context.InterfaceMethod.Name == nameof(IMonitoredDevice.Probe))
                {
                    MonitorCalls.AddOrUpdate((nameof(IMonitoredDevice.Probe), device.GetPrimaryKeyString()), 1, (_, n) => n + 1);
                }
                return context.Invoke();
            });
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings
            {
                IndexPartitions = RegistryClusterFixture.Partitions,
                Heartbeat = new HeartbeatSettings { IntervalSeconds = DefaultPolicy.IntervalSeconds, GraceSeconds = DefaultPolicy.GraceSeconds },
            });
        }
    }
}
