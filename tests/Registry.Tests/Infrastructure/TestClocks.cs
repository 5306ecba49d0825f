using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Reminders;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// Puts a silo's grains on a test's <see cref="FakeTimeProvider"/>: the registry's grains and Orleans' grain timers read
/// the default <see cref="TimeProvider"/> (Orleans resolves its timers' clock by the key <c>Orleans.Grains</c>, which falls
/// back to the default), while membership, messaging, activation collection, the directory and reminders stay on real
/// time so a test that moves the clock does not expire the cluster's own machinery.
/// </summary>
public static class TestClocks
{
    private static readonly string[] RealTimeAreas =
    [
        TimeProviderNames.Messaging,
        TimeProviderNames.SystemTimers,
        TimeProviderNames.Membership,
        TimeProviderNames.ActivationManagement,
        TimeProviderNames.GrainDirectory,
        ReminderTimeProviderNames.Reminders,
    ];

    /// <summary>The areas a test clock must not drive: their loops would stall, or run inline in <c>Advance</c>.</summary>
    public static IReadOnlyList<string> RealTime => RealTimeAreas;

    public static void UseGrainClock(this IServiceCollection services, TimeProvider clock)
    {
        services.AddSingleton<TimeProvider>(clock);
        foreach (var area in RealTimeAreas)
        {
            services.AddKeyedSingleton(area, TimeProvider.System);
        }
    }
}
