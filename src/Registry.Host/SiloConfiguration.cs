using System.Net;
using System.Runtime.CompilerServices;
using Azure.Core.Pipeline;
using Azure.Core;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Providers;
using Orleans.Storage;
using Orleans.Streams;
using Registry.Abstractions;
using Registry.Grains;
using Registry.Grains.Devices;
using Registry.Grains.Events;
using Registry.Grains.Heartbeats;
using Registry.Grains.Index;
using Registry.Grains.Jobs;
using Registry.Gateway.Wire;
using Registry.Grains.Storage;
using Registry.Client;

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
    /// <summary>The durable storage behind the bounded <see cref="StorageNames.Jobs"/> name.</summary>
    public const string JobStore = "registry-job-store";
    /// <summary>The durable storage behind the bounded <see cref="StorageNames.Access"/> name.</summary>
    public const string AccessStore = "registry-access-store";
    /// <summary>The durable storage behind the bounded <see cref="PubSubStore"/> name.</summary>
    public const string PubSubInnerStore = "registry-pubsub-store";
    /// <summary>The key of the unbounded <see cref="IIndexStore"/> (the one the grains use wraps it).</summary>
    public const string IndexEntryStore = "registry-index-entries";
    /// <summary>The key of the unbounded <see cref="IHeartbeatStore"/> (the one the monitor uses wraps it).</summary>
    public const string HeartbeatStore = "registry-heartbeats";

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
                o.TableName = RegistryClusterNames.MembershipTable(settings.StoragePrefix);
            });
            // One cluster per storage: a silo of another ClusterId alive in the table refuses this start before it joins.
            var membership = Tables(settings).GetTableClient(RegistryClusterNames.MembershipTable(settings.StoragePrefix));
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new OtherClusterCheck(membership, settings,
                sp.GetRequiredService<IOptions<ClusterMembershipOptions>>(), sp.GetRequiredService<ILogger<OtherClusterCheck>>(), IndexCheckStage));
        }
        else
        {
            silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, serviceId: settings.ServiceId, clusterId: settings.ClusterId);
        }
        // How fast a dead silo is declared dead, so its devices are served again elsewhere (README "Configuration").
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = TimeSpan.FromSeconds(settings.ProbeTimeoutSeconds);
            o.NumMissedProbesLimit = settings.MissedProbesLimit;
        });
        // How long a call waits for its answer; a call forwarded to a silo that died is answered only by it.
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = settings.ResponseTimeout);
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
        silo.Services.AddRegistryClock();
        silo.Services.Configure<RegistryIndexOptions>(o =>
        {
            o.Partitions = settings.IndexPartitions;
            o.WriteSettleTime = settings.WriteSettleTime;
        });
        // Index verification after a partition activates takes a quarter of the silo's storage slots at most, whatever the
        // partitions: the rest stay for requests (and the partitions' own loads).
        silo.Services.TryAddSingleton(_ => new IndexVerificationSlots(settings.IndexVerificationsInFlight));
        // Orleans' default grain directory. Its strongly consistent alternative (AddDistributedGrainDirectory, experimental
        // in Orleans 10) would keep one activation per device while a silo is declared dead, but here it hung a single
        // silo's start (a grain call from the start waited for good) and spun a core at shutdown: docs/invariants.md §11.
        silo.Services.Configure<HeartbeatMonitorOptions>(o =>
        {
            o.DefaultPolicy = settings.Heartbeat.DefaultPolicy;
            o.HubName = settings.HubName;
        });
        // Idle devices leave memory after this age; what stays of them is their index entry (and, in memory mode, storage).
        silo.Services.Configure<GrainCollectionOptions>(o =>
            o.ClassSpecificCollectionAge[typeof(DeviceGrain).FullName!] = settings.DeviceIdleTime);
        // Orleans keeps a silo's cached grain addresses after their grains deactivate (an LRU, 1,000,000 entries by default,
        // ~400 B each): bounded here so an idle registry does not hold one per device it ever served (README, "Scale and memory").
        silo.Services.Configure<GrainDirectoryOptions>(o => o.CacheSize = settings.DirectoryCacheSize);

        if (settings.IsDurable)
        {
            ConfigureDurableStorage(silo, settings);
        }
        else
        {
            silo.AddMemoryGrainStorage(DeviceStore);
            silo.AddMemoryGrainStorage(IndexStore);
            silo.AddMemoryGrainStorage(StorageNames.Jobs);
            silo.AddMemoryGrainStorage(StorageNames.Access);
            silo.Services.AddKeyedSingleton<IIndexStore>(IndexEntryStore, (sp, _) => new MemoryIndexStore(sp.GetRequiredService<IGrainFactory>()));
            silo.Services.AddKeyedSingleton<IHeartbeatStore>(HeartbeatStore, (sp, _) => new MemoryHeartbeatStore(sp.GetRequiredService<IGrainFactory>()));
            silo.Services.TryAddSingleton<IPresenceStore>(sp => new MemoryPresenceStore(sp.GetRequiredService<IGrainFactory>()));
            silo.UseInMemoryReminderService();
        }

        // Grains name logical storages; both are wrapped so ids with '#', '?', '/' or '\' keep rows of their own.
        // Durable storage is also bounded in time, so an outage answers 503 promptly instead of 500 after long retries.
        var bounded = settings.IsDurable;
        silo.Services.AddSingleton(sp => new StorageTimeBound(settings.StorageTimeout, sp.GetRequiredService<ILogger<StorageTimeBound>>(), settings.GrainStorageRequestsInFlight,
            loadWait: settings.ResponseTimeout));
        AddEscaped(silo.Services, StorageNames.Registry, DeviceStore, bounded);
        AddEscaped(silo.Services, StorageNames.Index, IndexStore, bounded);
        ConfigureEvents(silo, settings);
        silo.Services.TryAddSingleton<IRegistryEventSink, UnroutedEventSink>();
        // Device presence is written behind, in partition batches, never per heartbeat (PresenceWriter).
        silo.Services.Configure<PresenceOptions>(o => o.PersistInterval = settings.PresencePersistInterval);
        silo.Services.AddSingleton<PresenceWriter>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<PresenceWriter>());
        silo.Services.AddSingleton<ConnectedDevices>();
        silo.Services.AddSingleton<ActiveDevices>();
        // Monitor partitions lost with a silo come back when it is declared dead, not at their reminder's next tick.
        silo.Services.AddSingleton<MonitorWaker>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<MonitorWaker>());
        silo.Services.TryAddSingleton<DeviceETags>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ConnectedDevices>());
        // Import/export jobs: the line format is the gateway's wire (one owner of the JSON shapes).
        silo.Services.Configure<JobOptions>(o =>
        {
            o.MaxActiveJobs = settings.MaxActiveJobs;
            o.HistoryRetention = TimeSpan.FromDays(settings.JobHistoryDays);
            o.ImportChunksInFlight = settings.EffectiveImportChunksInFlight;
            o.ImportChunkLines = settings.EffectiveImportChunkLines;
            o.StorageGroups = settings.IsDurable ? settings.StorageGroups : 1;
        });
        silo.Services.AddDeviceLineFormat();
        silo.Services.AddSingleton<JobStops>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, JobDrain>();
        // A job's chunks go round the active silos, each through a door grain placed on the silo its key names.
        silo.Services.AddPlacementDirector<OnNamedSiloPlacement, OnNamedSiloPlacementDirector>();
        silo.Services.TryAddSingleton<IIndexStore>(sp =>
        {
            var inner = sp.GetRequiredKeyedService<IIndexStore>(IndexEntryStore);
            return bounded ? new BoundedIndexStore(inner, sp.GetRequiredService<StorageTimeBound>()) : inner;
        });
        silo.Services.TryAddSingleton<IHeartbeatStore>(sp =>
        {
            var inner = sp.GetRequiredKeyedService<IHeartbeatStore>(HeartbeatStore);
            return bounded ? new BoundedHeartbeatStore(inner, sp.GetRequiredService<StorageTimeBound>()) : inner;
        });

        // Durable storage answers before the silo starts joining its cluster, so a refused start leaves no trace there;
        // memory storage lives in grains, which answer once the silo is active: checked then, without holding the start.
        var checkStage = settings.IsDurable ? IndexCheckStage : ServiceLifecycleStage.Active;
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new IndexPartitionCheck(
            sp.GetRequiredKeyedService<IGrainStorage>(StorageNames.Index),
            sp.GetRequiredService<IOptions<RegistryIndexOptions>>(),
            sp.GetRequiredService<ILogger<IndexPartitionCheck>>(),
            checkStage,
            settings.ServiceId,
            settings.IsDurable ? settings.DeviceStorage : "Memory",
            settings.IsDurable ? null : sp.GetRequiredService<IHostApplicationLifetime>(),
            settings.IsDurable ? settings.StorageGroups : null,
            settings.IsDurable ? settings.StorageTables : null,
            storagePrefix: settings.IsDurable ? settings.StoragePrefix : null));
    }

    /// <summary>
    /// Azure SDK clients whose retries fit in <see cref="RegistrySettings.StorageTimeout"/>: the SDK defaults retry for
    /// tens of seconds, which held requests for ~23 s and shutdown past a minute when storage was down.
    /// </summary>
    private static TableServiceClient Tables(RegistrySettings settings)
    {
        var options = new TableClientOptions { Transport = Transport(settings) };
        BoundRetries(options.Retry, settings.StorageTimeout);
        return new TableServiceClient(settings.StorageConnectionString, options);
    }

    private static BlobServiceClient Blobs(RegistrySettings settings)
    {
        var options = new BlobClientOptions { Transport = Transport(settings) };
        BoundRetries(options.Retry, settings.StorageTimeout);
        return new BlobServiceClient(settings.StorageConnectionString, options);
    }

    /// <summary>Connections a silo keeps open to each storage endpoint (Table, Blob, Queue) at most, over all its Azure SDK clients.</summary>
    public const int MaxStorageConnections = 256;

    private static readonly ConditionalWeakTable<RegistrySettings, HttpClientTransport> Transports = new();

    /// <summary>
    /// One connection pool per silo for all its storage clients, at most <see cref="MaxStorageConnections"/> connections per endpoint:
    /// requests beyond them wait for one (within the SDK's network timeout). Each client had a pool without a limit, a
    /// connection per concurrent request: a failover's reactivations opened them until the machine had no file handles
    /// left (the 100k alert soak with a silo killed).
    /// </summary>
    private static HttpClientTransport Transport(RegistrySettings settings) =>
        Transports.GetValue(settings, static _ => new HttpClientTransport(new SocketsHttpHandler { MaxConnectionsPerServer = MaxStorageConnections }));

    /// <summary>The Azure SDK's retries of a storage request after its first try.</summary>
    public const int StorageRetries = 2;

    private static void BoundRetries(RetryOptions retry, TimeSpan timeout)
    {
        retry.Mode = RetryMode.Exponential;
        retry.MaxRetries = StorageRetries;
        retry.Delay = TimeSpan.FromMilliseconds(100);
        retry.MaxDelay = TimeSpan.FromMilliseconds(500);
        retry.NetworkTimeout = timeout;
    }

    /// <summary>Before the membership runtime writes this silo into the cluster table.</summary>
    private const int IndexCheckStage = ServiceLifecycleStage.RuntimeInitialize - 2;

    /// <summary>The layout record's storage is ready before the check reads it.</summary>
    private const int LayoutRecordStage = IndexCheckStage - 1;

    /// <summary>
    /// The registry's tables are created once the check has passed, still before the silo joins: a start refused for its
    /// layout creates none (one with more <c>StorageTables</c> than the storage was written with left the extra ones behind).
    /// </summary>
    private const int TableStage = IndexCheckStage + 1;

    private static string TablePrefix(RegistrySettings settings) => RegistryClusterNames.TablePrefix(settings.StoragePrefix);

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
        else if (string.Equals(settings.DeviceStorage, "Batched", StringComparison.OrdinalIgnoreCase))
        {
            // Device rows group-committed across the silo's device grains (DeviceRowStorage), in a table of their own.
            var devices = StorageTables.Of(Tables(settings), tableName + "DeviceRows", settings.StorageTables);
            silo.Services.AddSingleton(sp => new DeviceRowStorage(
                devices, settings.IndexPartitions, sp.GetRequiredService<IGrainStorageSerializer>(), sp.GetRequiredService<ILogger<DeviceRowStorage>>(),
                settings.StorageRequestsInFlight, settings.StorageTimeout / 2, queueTimeout: settings.StorageTimeout, groups: settings.Groups));
            silo.Services.AddKeyedSingleton<IGrainStorage>(DeviceStore, (sp, _) => sp.GetRequiredService<DeviceRowStorage>());
            // Its rows are grouped by index partition: an export scans them by range instead of reading device by device.
            silo.Services.AddSingleton<IDevicePartitionScan>(sp => sp.GetRequiredService<DeviceRowStorage>());
            // ... and a partition's verification pass after a restart reads them the same way, asking only the devices
            // whose rows disagree with their entries.
            silo.Services.AddSingleton(sp => new StoredPartitionRows(
                sp.GetRequiredService<IDevicePartitionScan>(), settings.IndexPartitions, sp.GetRequiredService<IndexVerificationSlots>()));
            foreach (var table in devices.All)
            {
                silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(new CreateTable(table, TableStage));
            }
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

        // Jobs, access policies (and stream subscriptions) keep Orleans' own row keys, so they are bounded but not escaped:
        // unbounded, a request reading them while storage was down answered 500 after the provider's wrapping.
        silo.AddAzureTableGrainStorage(JobStore, o =>
        {
            o.TableServiceClient = Tables(settings);
            o.TableName = tableName + JobTableSuffix;
            o.DeleteStateOnClear = true;
        });
        AddBounded(silo.Services, StorageNames.Jobs, JobStore);
        // The cluster's shared access policies (AccessPolicyGrain): one row, the keys every gateway accepts.
        silo.AddAzureTableGrainStorage(AccessStore, o =>
        {
            o.TableServiceClient = Tables(settings);
            o.TableName = tableName + "Access";
        });
        AddBounded(silo.Services, StorageNames.Access, AccessStore);

        // The index: an entity per entry, so a change costs the change (TableIndexStore). The table exists before the
        // cluster runtime starts, like the layout record's container below.
        var indexTable = StorageTables.Of(Tables(settings), tableName + "Index", settings.StorageTables);
        silo.Services.AddKeyedSingleton<IIndexStore>(IndexEntryStore, (sp, _) =>
            new TableIndexStore(indexTable, settings.StorageRequestsInFlight, settings.StorageTimeout / 2, sp.GetRequiredService<ILogger<TableIndexStore>>(),
                groups: settings.Groups, roundTrip: settings.LoadRoundTripTimeout));
        foreach (var table in indexTable.All)
        {
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(new CreateTable(table, TableStage));
        }
        var presenceTable = Tables(settings).GetTableClient(tableName + "Presence");
        silo.Services.AddSingleton<IPresenceStore>(sp => new BoundedPresenceStore(new TablePresenceStore(presenceTable), sp.GetRequiredService<StorageTimeBound>()));
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(new CreateTable(presenceTable, TableStage));

        // Heartbeat monitoring: an entity per watched device, keyed like the index; its partitions' reminders are in the
        // Reminders table above (one row per partition that watches anything).
        var heartbeatTable = Tables(settings).GetTableClient(tableName + "Heartbeats");
        silo.Services.AddKeyedSingleton<IHeartbeatStore>(HeartbeatStore, new TableHeartbeatStore(heartbeatTable, settings.LoadRoundTripTimeout));
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(new CreateTable(heartbeatTable, TableStage));
        // The registry-wide default is the cluster's, kept in its storage and in force here before this silo joins: a silo
        // started without Registry:Heartbeat no longer leaves the devices it hosts unmonitored (ClusterHeartbeatDefault).
        var settingsTable = Tables(settings).GetTableClient(tableName + "Settings");
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new ClusterHeartbeatDefault(
            settingsTable, settings.Heartbeat, sp.GetRequiredService<IOptions<HeartbeatMonitorOptions>>().Value, settings,
            sp.GetRequiredKeyedService<TimeProvider>(RegistryClock.Key), sp.GetRequiredService<ILogger<ClusterHeartbeatDefault>>(), TableStage,
            ClusterHeartbeatDefault.TellPartitions(sp.GetRequiredService<IGrainFactory>(), settings.IndexPartitions)));

        // The index layout record (IndexPartitionCheck): one small record, kept in Orleans' blob grain storage.
        silo.AddAzureBlobGrainStorage(IndexStore, o =>
        {
            o.BlobServiceClient = Blobs(settings);
            // Named after the tables, not the prefix as given: two prefixes that differ only by hyphens (or case) name the
            // same tables, so they must meet the same record and the second registry is refused, where it used to find none
            // and start on the first one's tables (its verification then dropped every index entry of the first).
            // The same name as before for a prefix without hyphens.
            o.ContainerName = $"{RegistryClusterNames.TablePrefix(prefix)}-index".ToLowerInvariant();
            // Ready before the cluster runtime starts, so the partition count check can refuse before this silo joins.
            o.InitStage = LayoutRecordStage;
        });
        // The same provider, built with a logger that leaves the check the ETag refusal of a racing first start (LayoutRecordLogger).
        silo.Services.AddKeyedSingleton<IGrainStorage>(IndexStore, (sp, _) =>
        {
            var options = sp.GetRequiredService<IOptionsMonitor<AzureBlobStorageOptions>>().Get(IndexStore);
            return new AzureBlobGrainStorage(IndexStore, options, options.BuildContainerFactory(sp, options),
                sp.GetRequiredService<Orleans.Serialization.Serializers.IActivatorProvider>(),
                new LayoutRecordLogger(sp.GetRequiredService<ILogger<AzureBlobGrainStorage>>()));
        });
    }

    /// <summary>Orleans' name for the storage of explicit stream subscriptions.</summary>
    public const string PubSubStore = ProviderConstants.DEFAULT_PUBSUB_PROVIDER_NAME;

    /// <summary>Azure queues behind the durable event stream: a few, so several silos pull in parallel.</summary>
    public const int EventQueueCount = RegistryClusterNames.EventQueueCount;

    /// <summary>
    /// The event stream and the sink that feeds it, only once a route is enabled: an unrouted registry keeps the
    /// <see cref="UnroutedEventSink"/> and runs no stream provider, so it pays nothing (no pulling agents, no queue polls).
    /// </summary>
    private static void ConfigureEvents(ISiloBuilder silo, RegistrySettings settings)
    {
        var routed = settings.RoutedSources();
        silo.Services.Configure<RegistryEventOptions>(o =>
        {
            o.HubName = settings.HubName;
            o.RoutedSources = routed;
            o.OutboxSweepInterval = settings.OutboxSweepInterval;
            o.OutboxVerifyAge = settings.WriteSettleTime;
        });
        silo.Services.TryAddSingleton<LifecycleNotifications>();
        silo.Services.TryAddSingleton<PendingNotifications>();
        if (routed.Count == 0)
        {
            silo.Services.TryAddSingleton<IEventOutbox, NoEventOutbox>();
            return;
        }
        silo.Services.TryAddSingleton<IRegistryEventSink, StreamEventSink>();
        if (settings.IsDurable)
        {
            // The notifications the stream has not yet taken, in storage, so a silo killed does not lose them (TableEventOutbox).
            var outbox = Tables(settings).GetTableClient(TablePrefix(settings) + "Outbox");
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(new CreateTable(outbox, TableStage));
            silo.Services.TryAddSingleton(sp => new TableEventOutbox(outbox, sp.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToParsableString(),
                sp.GetRequiredService<StorageTimeBound>(), sp.GetRequiredKeyedService<TimeProvider>(RegistryClock.Key), sp.GetRequiredService<ILogger<TableEventOutbox>>()));
            silo.Services.TryAddSingleton<IEventOutbox>(sp => sp.GetRequiredService<TableEventOutbox>());
            silo.Services.TryAddSingleton<IStoredGeneration, StorageStoredGeneration>();
            silo.Services.TryAddSingleton<OutboxSweeper>();
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<OutboxSweeper>());
            silo.AddAzureQueueStreams(RegistryStreams.Provider, (OptionsBuilder<AzureQueueOptions> o) => o.Configure(q =>
            {
                q.QueueServiceClient = Queues(settings);
                q.QueueNames = EventQueueNames(settings);
            }));
            // Orleans' adapter with cursors that survive a cache miss (RecoveringQueueCache); registered after Orleans' own
            // under the same key, so the provider resolves this one.
            silo.Services.AddKeyedSingleton<IQueueAdapterFactory>(RegistryStreams.Provider,
                (sp, key) => RecoveringAzureQueueAdapterFactory.Create(sp, (string)key!));
            silo.AddAzureTableGrainStorage(PubSubInnerStore, o =>
            {
                o.TableServiceClient = Tables(settings);
                o.TableName = TablePrefix(settings) + "PubSub";
                o.DeleteStateOnClear = true;
            });
            AddBounded(silo.Services, PubSubStore, PubSubInnerStore);
        }
        else
        {
            silo.Services.TryAddSingleton<IEventOutbox, NoEventOutbox>();
            silo.AddMemoryStreams(RegistryStreams.Provider);
            silo.AddMemoryGrainStorage(PubSubStore);
        }
    }

    /// <summary>The durable stream's queues, named from the storage prefix so registries sharing an account never share events.</summary>
    public static List<string> EventQueueNames(RegistrySettings settings) => RegistryClusterNames.EventQueueNames(settings.StoragePrefix);

    /// <summary>A queue client whose retries fit in the storage timeout, like <see cref="Tables"/>.</summary>
    public static QueueServiceClient Queues(RegistrySettings settings)
    {
        var options = new QueueClientOptions { Transport = Transport(settings) };
        BoundRetries(options.Retry, settings.StorageTimeout);
        return new QueueServiceClient(settings.StorageConnectionString, options);
    }

    private static void AddEscaped(IServiceCollection services, string name, string innerName, bool bounded) =>
        services.TryAddKeyedSingleton<IGrainStorage>(name, (sp, _) =>
        {
            var inner = sp.GetRequiredKeyedService<IGrainStorage>(innerName);
            return new KeyEscapingGrainStorage(bounded ? new BoundedGrainStorage(inner, sp.GetRequiredService<StorageTimeBound>()) : inner);
        });

    /// <summary>A durable storage under the name grains use, bounded in time like the escaped ones, its keys as they were.</summary>
    private static void AddBounded(IServiceCollection services, string name, string innerName) =>
        services.AddKeyedSingleton<IGrainStorage>(name, (sp, _) =>
            new BoundedGrainStorage(sp.GetRequiredKeyedService<IGrainStorage>(innerName), sp.GetRequiredService<StorageTimeBound>()));

    /// <summary>Creates a table the registry owns when the silo starts, at <paramref name="stage"/>.</summary>
    private sealed class CreateTable(TableClient table, int stage) : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) =>
            lifecycle.Subscribe(nameof(CreateTable), stage, ct => table.CreateIfNotExistsAsync(ct));
    }
}
