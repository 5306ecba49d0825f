using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Registry.Abstractions;

namespace Registry.Gateway.Security;

/// <summary>
/// Wires SAS authentication: <see cref="AddRegistryAuthentication"/> registers the policies and checkers,
/// <see cref="UseRegistryAuthentication"/> puts the middleware after routing (it reads endpoint metadata) and
/// before the endpoints. The host provides <c>IGrainFactory</c> for device lookups and may provide the <see cref="TimeProvider"/>.
/// </summary>
public static class SecurityExtensions
{
    public static IServiceCollection AddRegistryAuthentication(
        this IServiceCollection services, SharedAccessPolicies policies, Action<SharedAccessOptions> configure)
    {
        services.AddSingleton(policies);
        services.AddOptions<SharedAccessOptions>().Configure(configure);
        services.AddRegistryClock();
        services.AddSingleton<SharedAccessAuthorizer>();
        services.AddSingleton(sp => new DeviceCredentialCache(
            sp.GetRequiredService<IGrainFactory>(), sp.GetRequiredService<IOptions<SharedAccessOptions>>(), sp.GetRequiredKeyedService<TimeProvider>(RegistryClock.Key)));
        services.AddSingleton(sp => new DeviceAccessAuthorizer(
            sp.GetRequiredService<SharedAccessAuthorizer>(), sp.GetRequiredService<DeviceCredentialCache>()));
        return services;
    }

    public static IApplicationBuilder UseRegistryAuthentication(this IApplicationBuilder app) =>
        app.UseMiddleware<SharedAccessMiddleware>();
}
