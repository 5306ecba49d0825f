using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Events;
using Registry.Grains.Heartbeats;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Heartbeats;

/// <summary>
/// An open session keeps its device grain for good; the finite keep-alive a monitored heartbeat or the monitor's
/// question gives must not replace that, or the grain of a connected device whose monitoring then stops is collected
/// with its session open (counted disconnected, and a disable could no longer close it). Orleans compares a keep-alive,
/// set on the grains' clock, with real time when it collects, so this cluster's grain clock runs a day behind: a finite
/// keep-alive has lapsed at once, and only an open session's (forever) holds.
/// </summary>
public sealed class SessionKeepAliveTests(SessionKeepAliveTests.Cluster cluster) : IClassFixture<SessionKeepAliveTests.Cluster>
{
    private static readonly TimeSpan Deadline = Cluster.Policy.Deadline;

    [Fact]
    public async Task A_connected_device_grain_stays_after_its_monitoring_stops_however_long_it_is_silent()
    {
        var id = $"session-{Guid.NewGuid():N}";
        var device = cluster.Grains.GetGrain<IDeviceGrain>(id);
        await device.Create(DeviceInputs.Sas(id));
        Assert.Equal(DeviceAccess.Granted, await device.Connect(new DeviceSession(Guid.NewGuid(), null, null)));
        await cluster.Grains.BeatAndJoinAsync(id);
        var monitor = cluster.Grains.GetGrain<IHeartbeatMonitorGrain>(DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions));
        Cluster.Clock.Advance(Deadline + TimeSpan.FromSeconds(1));
        await monitor.Check(); // the monitor asks the device: missed
        Assert.NotNull(await monitor.OutageOf(id));
        await cluster.Grains.GetGrain<IDeviceHeartbeatGrain>(id).SetHeartbeat(HeartbeatOverride.Off);
        var management = cluster.Grains.GetGrain<IManagementGrain>(0);

        await management.ForceActivationCollection(TimeSpan.Zero);

        Assert.Equal(1, await management.GetGrainActivationCount((GrainReference)device));
        Assert.Equal(DeviceConnectionState.Connected, (await device.Get())!.ConnectionState);
    }

    public sealed class Cluster : IAsyncLifetime
    {
        public static readonly HeartbeatPolicy Policy = new(60, 30);

        public static FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow.AddDays(-1));

        private TestCluster _cluster = null!;

        public IGrainFactory Grains => _cluster.GrainFactory;

        public async ValueTask InitializeAsync() => _cluster = await RegistryClusterFixture.DeployAsync<Configurator>("keepalive");

        public async ValueTask DisposeAsync()
        {
            if (_cluster is null)
            {
                return; // its start failed, and that failure is the one reported
            }
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }

        private sealed class Configurator : ISiloConfigurator
        {
            public void Configure(ISiloBuilder silo)
            {
                silo.Services.UseGrainClock(Clock);
                silo.Services.AddSingleton<IRegistryEventSink>(new CapturingEventSink());
                SiloConfiguration.ConfigureServices(silo, new RegistrySettings
                {
                    IndexPartitions = RegistryClusterFixture.Partitions,
                    Heartbeat = new HeartbeatSettings { IntervalSeconds = Policy.IntervalSeconds, GraceSeconds = Policy.GraceSeconds },
                });
            }
        }
    }
}
