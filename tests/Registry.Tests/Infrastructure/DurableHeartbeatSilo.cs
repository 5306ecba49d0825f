using Microsoft.Extensions.DependencyInjection;
using Registry.Abstractions;
using Registry.Grains.Events;
using Registry.Host;

namespace Registry.Tests.Infrastructure;

/// <summary>A test silo of a durable registry (Azurite) with heartbeat monitoring.</summary>
public static class DurableHeartbeatSilo
{
    /// <summary>
    /// Its grains on <paramref name="clock"/>, its alerts to <paramref name="events"/>, its storage, ServiceId and ClusterId
    /// named by <paramref name="prefix"/> (a cluster started again with the same prefix is the same registry), and
    /// <paramref name="policy"/> as the registry default.
    /// </summary>
    public static void Configure(
        ISiloBuilder silo, TimeProvider clock, IRegistryEventSink events, string connectionString, string prefix, HeartbeatPolicy policy)
    {
        silo.Services.UseGrainClock(clock);
        silo.Services.AddSingleton(events);
        SiloConfiguration.ConfigureServices(silo, new RegistrySettings
        {
            IndexPartitions = RegistryClusterFixture.Partitions,
            StorageConnectionString = connectionString,
            StoragePrefix = prefix,
            ServiceId = prefix,
            ClusterId = prefix,
            Heartbeat = new HeartbeatSettings { IntervalSeconds = policy.IntervalSeconds, GraceSeconds = policy.GraceSeconds },
        });
    }
}
