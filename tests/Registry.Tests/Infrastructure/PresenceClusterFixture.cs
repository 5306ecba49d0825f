using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
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
public sealed class PresenceClusterFixture : IAsyncLifetime
{
    private const string ClockKey = "Test:ClockId";

    /// <summary>In-process silos are built from configuration only: each finds its fixture's clock here by id.</summary>
    private static readonly ConcurrentDictionary<string, FakeTimeProvider> Clocks = new();

    private readonly string _clockId = Guid.NewGuid().ToString("N");

    /// <summary>Started at the real time: Orleans reads this clock too (membership, timers), so it must look current.</summary>
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public TestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.GrainFactory;

    public DateTime Now => Clock.GetUtcNow().UtcDateTime;

    public IDeviceGrain Device(string id) => Grains.GetGrain<IDeviceGrain>(id);

    public async ValueTask InitializeAsync()
    {
        Clocks[_clockId] = Clock;
        Cluster = await RegistryClusterFixture.DeployAsync<Configurator>("presence",
            builder => builder.ConfigureHostConfiguration(c => c.AddInMemoryCollection([new(ClockKey, _clockId)])));
    }

    public async ValueTask DisposeAsync()
    {
        if (Cluster is null)
        {
            return; // its start failed, and that failure is the one reported
        }
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        Clocks.TryRemove(_clockId, out _);
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.UseGrainClock(Clocks[siloBuilder.Configuration[ClockKey]!]);
            SiloConfiguration.ConfigureServices(siloBuilder, new RegistrySettings { IndexPartitions = RegistryClusterFixture.Partitions });
        }
    }
}
