using System.Net;
using Azure.Core;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Storage;
using Registry.Grains;
using Registry.Grains.Index;
using Registry.Grains.Storage;

namespace Registry.Host;

/// <summary>Chooses clustering, grain storage and reminders from the settings: embedded (memory) or durable (Azure Storage).</summary>
public static class SiloConfiguration
{
    /// <summary>The storage behind the escaped <see cref="StorageNames.Registry"/> name.</summary>
    public const string DeviceStore = "registry-device-store";
    /// <summary>The storage behind the escaped <see cref="StorageNames.Index"/> name.</summary>
    public const string IndexStore = "registry-index-store";

    /// <summary>The whole silo: cluster identity, clustering, then <see cref="ConfigureServices"/>.</summary>
    public static void Configure(ISiloBuilder silo, RegistrySettings settings)
    {
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = settings.ClusterId;
            o.ServiceId = settings.ServiceId;
        });

        if (settings.IsDurable)
        {
            silo.ConfigureEndpoints(IPAddress.Parse(settings.AdvertisedAddress), settings.SiloPort, settings.GatewayPort,
                listenOnAnyHostAddress: !IPAddress.IsLoopback(IPAddress.Parse(settings.AdvertisedAddress)));
            silo.UseAzureStorageClustering(o =>
            {
                o.TableServiceClient = Tables(settings);
                o.TableName = TablePrefix(settings) + "Cluster";
            });
        }
        else
        {
            silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, serviceId: settings.ServiceId, clusterId: settings.ClusterId);
        }
        ConfigureServices(silo, settings);
    }

    /// <summary>Where the silo will listen: the silo and gateway ports on the address Orleans binds them to.</summary>
    public static IEnumerable<(string Setting, IPEndPoint Endpoint)> ListenEndpoints(RegistrySettings settings)
    {
        // Embedded mode binds loopback; durable mode the advertised address, or every address when that is not loopback.
        var address = IPAddress.Loopback;
        if (settings.IsDurable)
        {
            var advertised = IPAddress.Parse(settings.AdvertisedAddress);
            address = IPAddress.IsLoopback(advertised) ? advertised : IPAddress.Any;
        }
        yield return ("Registry:SiloPort", new IPEndPoint(address, settings.SiloPort));
        yield return ("Registry:GatewayPort", new IPEndPoint(address, settings.GatewayPort));
    }

    /// <summary>
    /// Storage, reminders and registry options, without clustering: what a test cluster (which brings its
    /// own clustering) shares with the real process.
    /// </summary>
    public static void ConfigureServices(ISiloBuilder silo, RegistrySettings settings)
    {
        silo.Services.Configure<RegistryIndexOptions>(o => o.Partitions = settings.IndexPartitions);

        if (settings.IsDurable)
        {
            ConfigureDurableStorage(silo, settings);
        }
        else
        {
            silo.AddMemoryGrainStorage(DeviceStore);
            silo.AddMemoryGrainStorage(IndexStore);
            silo.UseInMemoryReminderService();
        }

        // Grains name logical storages; both are wrapped so ids with '#', '?', '/' or '\' keep rows of their own.
        // Durable storage is also bounded in time, so an outage answers 503 promptly instead of 500 after long retries.
        TimeSpan? timeout = settings.IsDurable ? settings.StorageTimeout : null;
        AddEscaped(silo.Services, StorageNames.Registry, DeviceStore, timeout);
        AddEscaped(silo.Services, StorageNames.Index, IndexStore, timeout);

        // Durable storage answers before the silo starts joining its cluster, so a refused start leaves no trace there;
        // memory storage lives in grains, which answer once the silo is active.
        var checkStage = settings.IsDurable ? IndexCheckStage : ServiceLifecycleStage.Active;
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new IndexPartitionCheck(
            sp.GetRequiredKeyedService<IGrainStorage>(StorageNames.Index),
            sp.GetRequiredService<IOptions<RegistryIndexOptions>>(),
            sp.GetRequiredService<ILogger<IndexPartitionCheck>>(),
            checkStage,
            settings.ServiceId,
            settings.IsDurable ? settings.DeviceStorage : "Memory"));
    }

    /// <summary>
    /// Azure SDK clients whose retries fit in <see cref="RegistrySettings.StorageTimeout"/>: the SDK defaults retry for
    /// tens of seconds, which held requests for ~23 s and shutdown past a minute when storage was down.
    /// </summary>
    private static TableServiceClient Tables(RegistrySettings settings)
    {
        var options = new TableClientOptions();
        BoundRetries(options.Retry, settings.StorageTimeout);
        return new TableServiceClient(settings.StorageConnectionString, options);
    }

    private static BlobServiceClient Blobs(RegistrySettings settings)
    {
        var options = new BlobClientOptions();
        BoundRetries(options.Retry, settings.StorageTimeout);
        return new BlobServiceClient(settings.StorageConnectionString, options);
    }

    private static void BoundRetries(RetryOptions retry, TimeSpan timeout)
    {
        retry.Mode = RetryMode.Exponential;
        retry.MaxRetries = 2;
        retry.Delay = TimeSpan.FromMilliseconds(100);
        retry.MaxDelay = TimeSpan.FromMilliseconds(500);
        retry.NetworkTimeout = timeout;
    }

    /// <summary>Before the membership runtime writes this silo into the cluster table.</summary>
    private const int IndexCheckStage = ServiceLifecycleStage.RuntimeInitialize - 1;

    private static string TablePrefix(RegistrySettings settings) =>
        new(settings.StoragePrefix.Where(char.IsLetterOrDigit).ToArray());

    private static void ConfigureDurableStorage(ISiloBuilder silo, RegistrySettings settings)
    {
        var connectionString = settings.StorageConnectionString!;
        var prefix = settings.StoragePrefix;
        var tableName = TablePrefix(settings);

        silo.UseAzureTableReminderService(o =>
        {
            o.TableServiceClient = Tables(settings);
            o.TableName = tableName + "Reminders";
        });

        if (string.Equals(settings.DeviceStorage, "Blob", StringComparison.OrdinalIgnoreCase))
        {
            silo.AddAzureBlobGrainStorage(DeviceStore, o =>
            {
                o.BlobServiceClient = Blobs(settings);
                o.ContainerName = $"{prefix}-devices".ToLowerInvariant();
            });
        }
        else
        {
            silo.AddAzureTableGrainStorage(DeviceStore, o =>
            {
                o.TableServiceClient = Tables(settings);
                o.TableName = tableName + "Devices";
                o.DeleteStateOnClear = true;
            });
        }

        // An index partition holds thousands of ids: larger than a table entity should be, so it is a blob.
        silo.AddAzureBlobGrainStorage(IndexStore, o =>
        {
            o.BlobServiceClient = Blobs(settings);
            o.ContainerName = $"{prefix}-index".ToLowerInvariant();
            // Ready before the cluster runtime starts, so the partition count check can refuse before this silo joins.
            o.InitStage = IndexCheckStage - 1;
        });
    }

    private static void AddEscaped(IServiceCollection services, string name, string innerName, TimeSpan? timeout) =>
        services.TryAddKeyedSingleton<IGrainStorage>(name, (sp, _) =>
        {
            var inner = sp.GetRequiredKeyedService<IGrainStorage>(innerName);
            return new KeyEscapingGrainStorage(timeout is { } bound ? new BoundedGrainStorage(inner, bound, sp.GetRequiredService<ILogger<BoundedGrainStorage>>()) : inner);
        });
}
