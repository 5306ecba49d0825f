using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Registry.Gateway.Security;
using Registry.Gateway.Throttling;

namespace Registry.Gateway.Mqtt;

/// <summary>Registers the MQTT device edge; the host provides <c>IGrainFactory</c> and the registry's authentication.</summary>
public static class MqttEdgeServiceCollectionExtensions
{
    public static IServiceCollection AddMqttDeviceEdge(this IServiceCollection services, Action<MqttEdgeOptions> configure)
    {
        services.AddOptions<MqttEdgeOptions>().Configure(configure);
        services.AddSingleton(sp => new MqttDeviceEdge(
            sp.GetRequiredService<IOptions<MqttEdgeOptions>>(),
            sp.GetRequiredService<IOptions<SharedAccessOptions>>(),
            sp.GetRequiredService<DeviceAccessAuthorizer>(),
            sp.GetRequiredService<SharedAccessPolicies>(),
            sp.GetRequiredService<IThrottle>(),
            sp.GetRequiredService<IGrainFactory>(),
            sp.GetRequiredKeyedService<TimeProvider>(RegistryClock.Key),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<MqttDeviceEdge>>()));
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<MqttDeviceEdge>());
        return services;
    }
}

/// <summary>Puts the MQTT device edge on a Kestrel endpoint.</summary>
public static class MqttEdgeListenExtensions
{
    /// <summary>
    /// The endpoint's pipeline: the connection limit and connect deadline (before TLS, so they cover the handshake),
    /// TLS with <paramref name="certificate"/>, then MQTTnet through <see cref="MqttDeviceEdge"/>.
    /// </summary>
    public static ListenOptions UseMqttDeviceEdge(this ListenOptions listen, X509Certificate2 certificate)
    {
        var edge = listen.ApplicationServices.GetRequiredService<MqttDeviceEdge>();
        var options = listen.ApplicationServices.GetRequiredService<IOptions<MqttEdgeOptions>>().Value;
        listen.Use(next => connection => edge.AdmitAsync(connection, next));
        listen.UseHttps(new HttpsConnectionAdapterOptions { ServerCertificate = certificate, HandshakeTimeout = options.ConnectTimeout });
        listen.Run(edge.OnConnectedAsync);
        return listen;
    }
}
