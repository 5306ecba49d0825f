using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using Registry.Abstractions;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// Puts a silo's grains on a test's FakeTimeProvider: the registry's own clock (<see cref="RegistryClock.Key"/>)
/// and Orleans' grain timers (which Orleans resolves by the key <c>Orleans.Grains</c>) read it. Everything else stays on
/// real time: the unkeyed <see cref="TimeProvider"/>, which Orleans reads for placement's timeout and retries, the cluster
/// manifest's refresh and the grain directory, and every keyed area of Orleans' own machinery (membership, messaging,
/// activation collection, reminders), which falls back to it. One Orleans wait stays on the test clock with the grain
/// timers (they share the key): a grain whose activation throws is held 5 s before it deactivates, so a test that makes
/// an activation fail on purpose advances its clock past that, or its next call to the grain waits for Orleans' 30 s.
/// </summary>
public static class TestClocks
{
    public static void UseGrainClock(this IServiceCollection services, TimeProvider clock)
    {
        services.AddKeyedSingleton(RegistryClock.Key, clock);
        services.AddKeyedSingleton(TimeProviderNames.Grains, clock);
    }
}

/// <summary>
/// A test cluster's <see cref="FakeTimeProvider"/>, put on its silos' grains (<see cref="TestClocks.UseGrainClock"/>).
/// In-process silos are built from configuration only: each finds its cluster's clock here by an id in its configuration.
/// </summary>
public sealed class ClusterClock : IDisposable
{
    private const string Key = "Test:ClockId";

    private static readonly ConcurrentDictionary<string, FakeTimeProvider> Clocks = new();

    private readonly string _id = Guid.NewGuid().ToString("N");

    public ClusterClock() => Clocks[_id] = Clock;

    /// <summary>Started at the real time: Orleans reads this clock too (grain timers), so it must look current.</summary>
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    /// <summary>Gives the cluster's silos this clock's id.</summary>
    public void AddTo(TestClusterBuilder builder) => builder.ConfigureHostConfiguration(c => c.AddInMemoryCollection([new(Key, _id)]));

    /// <summary>In a silo configurator: puts the silo's grains on its cluster's clock.</summary>
    public static void Use(ISiloBuilder silo) => silo.Services.UseGrainClock(Clocks[silo.Configuration[Key]!]);

    public void Dispose() => Clocks.TryRemove(_id, out _);
}
