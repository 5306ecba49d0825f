using Microsoft.Extensions.DependencyInjection;
using Registry.Abstractions;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// Puts a silo's grains on a test's FakeTimeProvider: the registry's own clock (<see cref="RegistryClock.Key"/>)
/// and Orleans' grain timers (which Orleans resolves by the key <c>Orleans.Grains</c>) read it. Everything else stays on
/// real time: the unkeyed <see cref="TimeProvider"/>, which Orleans reads for placement's timeout and retries, the cluster
/// manifest's refresh and the grain directory, and every keyed area of Orleans' own machinery (membership, messaging,
/// activation collection, reminders), which falls back to it. A test that moves its clock never stalls the cluster.
/// </summary>
public static class TestClocks
{
    public static void UseGrainClock(this IServiceCollection services, TimeProvider clock)
    {
        services.AddKeyedSingleton(RegistryClock.Key, clock);
        services.AddKeyedSingleton(TimeProviderNames.Grains, clock);
    }
}
