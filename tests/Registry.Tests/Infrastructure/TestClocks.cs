using Microsoft.Extensions.DependencyInjection;
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
