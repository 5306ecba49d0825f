using System.Net;
using Azure.Core;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Storage;
using Registry.Grains;
using Registry.Grains.Devices;
using Registry.Grains.Events;
using Registry.Grains.Index;
using Registry.Grains.Jobs;
using Registry.Gateway.Wire;
using Registry.Grains.Storage;

namespace Registry.Host;

/// <summary>Chooses clustering, grain storage and reminders from the settings: embedded (memory) or durable (Azure Storage).</summary>
public static class SiloConfiguration
{
    /// <summary>The storage behind the escaped <see cref="StorageNames.Registry"/> name.</summary>
    public const string DeviceStore = "registry-device-store";
    /// <summary>The storage behind the escaped <see cref="StorageNames.Index"/> name (the index layout record).</summary>
    public const string IndexStore = "registry-index-store";
    /// <summary>The table behind <see cref="StorageNames.Jobs"/> in durable mode (job state, checkpoints, the job list).</summary>
    public const string JobTableSuffix = "Jobs";
    /// <summary>The key of the unbounded <see cref="IIndexStore"/> (the one the grains use wraps it).</summary>
    public const string IndexEntryStore = "registry-index-entries";

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
        // Idle devices leave memory after this age; what stays of them is their index entry (and, in memory mode, storage).
        silo.Services.Configure<GrainCollectionOptions>(o =>
            o.ClassSpecificCollectionAge[typeof(DeviceGrain).FullName!] = settings.DeviceIdleTime);

        if (settings.IsDurable)
        {
            ConfigureDurableStorage(silo, settings);
        }
        else
        {
            silo.AddMemoryGrainStorage(DeviceStore);
            silo.AddMemoryGrainStorage(IndexStore);
            silo.AddMemoryGrainStorage(StorageNames.Jobs);
            silo.Services.AddKeyedSingleton<IIndexStore>(IndexEntryStore, (sp, _) => new MemoryIndexStore(sp.GetRequiredService<IGrainFactory>()));
            silo.UseInMemoryReminderService();
        }

        // Grains name logical storages; both are wrapped so ids with '#', '?', '/' or '\' keep rows of their own.
        // Durable storage is also bounded in time, so an outage answers 503 promptly instead of 500 after long retries.
        var bounded = settings.IsDurable;
        silo.Services.AddSingleton(sp => new StorageTimeBound(settings.StorageTimeout, sp.GetRequiredService<ILogger<StorageTimeBound>>()));
        AddEscaped(silo.Services, StorageNames.Registry, DeviceStore, bounded);
        AddEscaped(silo.Services, StorageNames.Index, IndexStore, bounded);
        silo.Services.TryAddSingleton<IRegistryEventSink, UnroutedEventSink>();
        // Import/export jobs: the line format is the gateway's wire (one owner of the JSON shapes).
        silo.Services.Configure<JobOptions>(o =>
        {
            o.MaxActiveJobs = settings.MaxActiveJobs;
            o.HistoryRetention = TimeSpan.FromDays(settings.JobHistoryDays);
        });
        silo.Services.AddDeviceLineFormat();
        silo.Services.TryAddSingleton<IIndexStore>(sp =>
        {
            var inner = sp.GetRequiredKeyedService<IIndexStore>(IndexEntryStore);
            return bounded ? new BoundedIndexStore(inner, sp.GetRequiredService<StorageTimeBound>()) : inner;
        });

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

        silo.AddAzureTableGrainStorage(StorageNames.Jobs, o =>
        {
            o.TableServiceClient = Tables(settings);
            o.TableName = tableName + JobTableSuffix;
            o.DeleteStateOnClear = true;
        });

        // The index: an entity per entry, so a change costs the change (TableIndexStore). The table exists before the
        // cluster runtime starts, like the layout record's container below.
        var indexTable = Tables(settings).GetTableClient(tableName + "Index");
        silo.Services.AddKeyedSingleton<IIndexStore>(IndexEntryStore, new TableIndexStore(indexTable));
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(new CreateTable(indexTable, IndexCheckStage - 1));

        // The index layout record (IndexPartitionCheck): one small record, kept in Orleans' blob grain storage.
        silo.AddAzureBlobGrainStorage(IndexStore, o =>
        {
            o.BlobServiceClient = Blobs(settings);
            o.ContainerName = $"{prefix}-index".ToLowerInvariant();
            // Ready before the cluster runtime starts, so the partition count check can refuse before this silo joins.
            o.InitStage = IndexCheckStage - 1;
        });
    }

    private static void AddEscaped(IServiceCollection services, string name, string innerName, bool bounded) =>
        services.TryAddKeyedSingleton<IGrainStorage>(name, (sp, _) =>
        {
            var inner = sp.GetRequiredKeyedService<IGrainStorage>(innerName);
            return new KeyEscapingGrainStorage(bounded ? new BoundedGrainStorage(inner, sp.GetRequiredService<StorageTimeBound>()) : inner);
        });

    /// <summary>Creates a table the registry owns when the silo starts, at <paramref name="stage"/>.</summary>
    private sealed class CreateTable(TableClient table, int stage) : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) =>
            lifecycle.Subscribe(nameof(CreateTable), stage, ct => table.CreateIfNotExistsAsync(ct));
    }
}
