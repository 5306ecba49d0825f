using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Reminders;
using Orleans.Configuration;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// Puts a silo's grains on a test's <see cref="FakeTimeProvider"/>: the registry's grains and Orleans' grain timers read
/// the default <see cref="TimeProvider"/> (Orleans resolves its timers' clock by the key <c>Orleans.Grains</c>, which falls
/// back to the default), while membership, messaging, activation collection, the directory and reminders stay on real
/// time so a test that moves the clock does not expire the cluster's own machinery. Placement, which Orleans times on the
/// default clock, does not retry (a retry would wait on the test clock).
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
        // Orleans places activations through a Polly pipeline that reads the default TimeProvider, the test clock (its
        // key, Orleans.Grains, falls back to it, and is the grain timers' key too). A placement that failed once (at a
        // silo's start) waited for its retry on a clock nobody moved, and every call to that grain with it: the memory
        // storage grain, so the first device create of a fresh cluster went unanswered for 30 s (CI and a full run,
        // 2026-12-01). Without retries a failed placement is answered at once, and the grain's next call places it again.
        services.Configure<SiloMessagingOptions>(options => options.PlacementMaxRetries = 0);
    }
}
