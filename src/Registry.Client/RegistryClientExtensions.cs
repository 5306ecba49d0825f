using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Registry.Abstractions;

namespace Registry.Client;

/// <summary>
/// Connects a .NET app to a registry cluster as an Orleans client: the cluster's clustering and names, and the
/// registry's event stream when asked. The app then calls the grain interfaces of <c>Registry.Abstractions</c> through
/// <see cref="IClusterClient"/> or <see cref="IGrainFactory"/>; the registry's gateway role is built the same way.
/// </summary>
public static class RegistryClientExtensions
{
    /// <summary>Adds the Orleans client of <paramref name="builder"/>'s host, configured by <paramref name="configure"/>.</summary>
    public static IHostApplicationBuilder AddRegistryClient(this IHostApplicationBuilder builder, Action<RegistryClientOptions> configure)
    {
        var options = new RegistryClientOptions();
        configure(options);
        return builder.AddRegistryClient(options);
    }

    /// <summary>Adds the Orleans client of <paramref name="builder"/>'s host for the cluster <paramref name="options"/> names.</summary>
    public static IHostApplicationBuilder AddRegistryClient(this IHostApplicationBuilder builder, RegistryClientOptions options)
    {
        builder.UseOrleansClient(client => client.UseRegistryCluster(options));
        return builder;
    }

    /// <summary>Configures an Orleans client builder for the cluster <paramref name="options"/> names.</summary>
    public static IClientBuilder UseRegistryCluster(this IClientBuilder client, RegistryClientOptions options)
    {
        client.Services.AddSingleton<IClientConnectionRetryFilter>(sp =>
            new ConnectionRetry(options.ConnectTimeout, sp.GetService<TimeProvider>() ?? TimeProvider.System));
        client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = options.ResponseTimeout);
        // After the client's own hosted service (AddOrleansClient registers it before this runs), so it starts connected.
        client.Services.AddHostedService(sp => new ServiceIdCheck(sp.GetRequiredService<IClusterClient>(), options,
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<ServiceIdCheck>>()));
        if (!options.IsDurable)
        {
            client.UseLocalhostClustering(options.GatewayPort, options.ServiceId, options.ClusterId);
            if (options.Events)
            {
                client.AddMemoryStreams(RegistryStreams.Provider);
            }
            return client;
        }
        client.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
        client.UseAzureStorageClustering(o =>
        {
            o.TableServiceClient = new TableServiceClient(options.StorageConnectionString);
            o.TableName = RegistryClusterNames.MembershipTable(options.StoragePrefix);
        });
        if (options.Events)
        {
            client.AddAzureQueueStreams(RegistryStreams.Provider, (OptionsBuilder<AzureQueueOptions> o) => o.Configure(q =>
            {
                q.QueueServiceClient = new QueueServiceClient(options.StorageConnectionString);
                q.QueueNames = RegistryClusterNames.EventQueueNames(options.StoragePrefix);
            }));
        }
        return client;
    }
}
