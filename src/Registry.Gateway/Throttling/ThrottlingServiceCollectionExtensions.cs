using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Registry.Abstractions;

namespace Registry.Gateway.Throttling;

/// <summary>Registers <see cref="IThrottle"/>; the host binds <see cref="ThrottlingOptions"/> (off unless bound on).</summary>
internal static class ThrottlingServiceCollectionExtensions
{
    public static IServiceCollection AddRegistryThrottling(this IServiceCollection services)
    {
        services.AddRegistryClock();
        services.TryAddSingleton<IThrottle, HubThrottle>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ThrottlingOptions>, ThrottlingOptionsValidator>());
        services.AddOptions<ThrottlingOptions>().ValidateOnStart();
        return services;
    }
}
