using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Registry.Abstractions;

/// <summary>
/// The clock the registry's own code reads (device timestamps, heartbeat deadlines, token expiry, throttles, MQTT
/// deadlines), resolved as the <see cref="TimeProvider"/> keyed <see cref="Key"/>. Unless something registers another
/// under that key it is the process's <see cref="TimeProvider"/>, so a host has one clock. A test that moves the
/// registry's clock registers its own under this key and leaves the unkeyed one real: Orleans reads the unkeyed clock for
/// placement's timeout and retries, the cluster manifest's refresh and the grain directory, none of which may wait on a
/// clock that only a test moves.
/// </summary>
public static class RegistryClock
{
    public const string Key = "Registry.Clock";

    /// <summary>Registers the process's clock (real time unless registered before) and the registry's (that one unless registered before).</summary>
    public static IServiceCollection AddRegistryClock(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddKeyedSingleton<TimeProvider>(Key, static (sp, _) => sp.GetRequiredService<TimeProvider>());
        return services;
    }
}
