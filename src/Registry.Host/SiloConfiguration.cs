using System.Net;
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
                o.TableServiceClient = new TableServiceClient(settings.StorageConnectionString);
                o.TableName = TablePrefix(settings) + "Cluster";
            });
        }
        else
        {
            silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, serviceId: settings.ServiceId, clusterId: settings.ClusterId);
        }
        ConfigureServices(silo, settings);
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
        AddEscaped(silo.Services, StorageNames.Registry, DeviceStore);
        AddEscaped(silo.Services, StorageNames.Index, IndexStore);

        // Durable storage answers before the silo starts joining its cluster, so a refused start leaves no trace there;
        // memory storage lives in grains, which answer once the silo is active.
        var checkStage = settings.IsDurable ? IndexCheckStage : ServiceLifecycleStage.Active;
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new IndexPartitionCheck(
            sp.GetRequiredKeyedService<IGrainStorage>(StorageNames.Index),
            sp.GetRequiredService<IOptions<RegistryIndexOptions>>(),
            sp.GetRequiredService<ILogger<IndexPartitionCheck>>(),
            checkStage));
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
            o.TableServiceClient = new TableServiceClient(connectionString);
            o.TableName = tableName + "Reminders";
        });

        if (string.Equals(settings.DeviceStorage, "Blob", StringComparison.OrdinalIgnoreCase))
        {
            silo.AddAzureBlobGrainStorage(DeviceStore, o =>
            {
                o.BlobServiceClient = new BlobServiceClient(connectionString);
                o.ContainerName = $"{prefix}-devices".ToLowerInvariant();
            });
        }
        else
        {
            silo.AddAzureTableGrainStorage(DeviceStore, o =>
            {
                o.TableServiceClient = new TableServiceClient(connectionString);
                o.TableName = tableName + "Devices";
                o.DeleteStateOnClear = true;
            });
        }

        // An index partition holds thousands of ids: larger than a table entity should be, so it is a blob.
        silo.AddAzureBlobGrainStorage(IndexStore, o =>
        {
            o.BlobServiceClient = new BlobServiceClient(connectionString);
            o.ContainerName = $"{prefix}-index".ToLowerInvariant();
            // Ready before the cluster runtime starts, so the partition count check can refuse before this silo joins.
            o.InitStage = IndexCheckStage - 1;
        });
    }

    private static void AddEscaped(IServiceCollection services, string name, string innerName) =>
        services.TryAddKeyedSingleton<IGrainStorage>(name, (sp, _) =>
            new KeyEscapingGrainStorage(sp.GetRequiredKeyedService<IGrainStorage>(innerName)));
}
