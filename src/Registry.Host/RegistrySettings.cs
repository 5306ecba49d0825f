using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Registry.Abstractions;
using Registry.Grains.Events;
using Registry.Grains.Jobs;

namespace Registry.Host;

/// <summary>
/// Every setting of the registry process, bound from the <c>Registry</c> configuration section
/// (appsettings.json, <c>Registry__Name</c> environment variables, or <c>--Registry:Name=value</c>).
/// </summary>
public sealed partial class RegistrySettings
{
    public const string Section = "Registry";

    /// <summary>
    /// What this process is (<see cref="Roles"/>): <c>all</c>, a silo with the HTTPS and MQTT edge in the same process
    /// (the default, and the only role in embedded mode); <c>silo</c>, grains only; <c>gateway</c>, the HTTPS and MQTT
    /// edge as an Orleans client of the cluster, with no grains of its own.
    /// </summary>
    public string Role { get; set; } = RoleAll;

    public const string RoleAll = "all";
    public const string RoleSilo = "silo";
    public const string RoleGateway = "gateway";

    /// <summary>The values of <see cref="Role"/>.</summary>
    public static readonly string[] Roles = [RoleAll, RoleSilo, RoleGateway];

    /// <summary>This process hosts grains (roles all and silo).</summary>
    public bool HostsSilo => Role != RoleGateway;

    /// <summary>This process serves devices and services over HTTPS and MQTT (roles all and gateway).</summary>
    public bool ServesEdge => Role != RoleSilo;

    /// <summary>
    /// A silo's plain-HTTP port for <c>/healthz</c> (role silo only; 0 picks a free port): it serves no HTTPS, yet an
    /// orchestrator must be able to ask whether it lives. Carries no secret, so it needs no certificate.
    /// </summary>
    public int HealthPort { get; set; } = 8080;

    /// <summary>
    /// Seconds between a durable edge's reads of the cluster's shared access policies: the longest a regenerated key
    /// takes to be honoured by every gateway (and the old one refused). A durable silo re-reads the cluster's heartbeat
    /// default as often (<see cref="ClusterHeartbeatDefault"/>).
    /// </summary>
    public double AccessPolicyRefreshSeconds { get; set; } = 30;

    public TimeSpan AccessPolicyRefreshInterval => TimeSpan.FromSeconds(AccessPolicyRefreshSeconds);

    /// <summary>How long a gateway keeps trying to reach a silo of its cluster at start before it exits with code 1.</summary>
    public double ClusterConnectTimeoutSeconds { get; set; } = 30;

    /// <summary>Where the host keeps what it generates (certificates). Relative paths are under the working directory.</summary>
    public string DataFolder { get; set; } = "registry-data";

    /// <summary>The host name the registry answers for (SAS audience, certificate SAN).</summary>
    public string HostName { get; set; } = "localhost";

    /// <summary>The address Kestrel listens on. 0.0.0.0 to serve other machines (containers).</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>The HTTPS port. The official SDKs only speak 443; 8443 needs no root. 0 picks a free port.</summary>
    public int HttpsPort { get; set; } = 8443;

    /// <summary>
    /// The MQTT 3.1.1-over-TLS device port, on <see cref="ListenAddress"/> only, with the HTTPS certificate. IoT Hub's
    /// is 8883 (the only one the C# SDK dials); the Node SDK takes another through <c>GatewayHostName=host:port</c>. 0 picks a free port.
    /// </summary>
    public int MqttPort { get; set; } = 8883;

    /// <summary>
    /// Seconds a device connection has, from its TCP accept, to finish the TLS handshake and send its MQTT CONNECT;
    /// then it is closed. MQTTnet has no such bound: without it a socket that says nothing stays open forever.
    /// </summary>
    public double MqttConnectTimeoutSeconds { get; set; } = 10;

    /// <summary>Most MQTT connections open at once, handshaking ones included; one more is closed at accept.</summary>
    public int MqttMaxConnections { get; set; } = 100_000;

    /// <summary>
    /// The listen backlog of the registry's sockets (HTTPS and MQTT share Kestrel's socket transport): how many
    /// connections the kernel queues before the process accepts them, e.g. when a fleet reconnects at once.
    /// </summary>
    public int ListenBacklog { get; set; } = 512;

    public TimeSpan MqttConnectTimeout => TimeSpan.FromSeconds(MqttConnectTimeoutSeconds);

    /// <summary>
    /// Seconds after which an MQTT session its device grain heard nothing of (no message, no keep-alive) is re-asserted
    /// to the grain, and closed if refused: after a silo that held device grains dies or stops, their devices show
    /// Connected again, and a disable, delete or re-key closes their connections, within one to two such periods (0: never).
    /// </summary>
    public double MqttSessionRefreshSeconds { get; set; } = 15;

    public TimeSpan MqttSessionRefresh => TimeSpan.FromSeconds(MqttSessionRefreshSeconds);

    /// <summary>A PFX to serve instead of the generated one.</summary>
    public string? CertificatePath { get; set; }

    public string? CertificatePassword { get; set; }

    /// <summary>Azure Storage connection string. Empty: the embedded default (memory storage, nothing survives a restart).</summary>
    public string? StorageConnectionString { get; set; }

    /// <summary>Where device identities live in durable mode: one of <see cref="DeviceStorages"/>. The index is always an Azure Table.</summary>
    public string DeviceStorage { get; set; } = "Table";

    /// <summary>
    /// Longest a storage operation may take, in seconds: beyond it (or at once when storage is unreachable) a request
    /// answers 503 <c>ServiceUnavailable</c>, which the SDKs retry. A request makes a few storage operations in a row.
    /// </summary>
    public double StorageTimeoutSeconds { get; set; } = 5;

    /// <summary>How long a stopping host (SIGTERM, Ctrl+C) waits for a graceful shutdown before it stops anyway, in seconds.</summary>
    public double ShutdownTimeoutSeconds { get; set; } = 15;

    /// <summary>
    /// Durable (cluster) silos: the initial timeout of the liveness probes silos send each other, in seconds (Orleans'
    /// <c>ClusterMembershipOptions.ProbeTimeout</c>, 5 by default; Orleans adapts it between half and four times this to
    /// the probe answers it sees). With <see cref="MissedProbesLimit"/> it sets how long a dead silo's devices wait:
    /// the silo is suspected after that many missed probes and declared dead on a second silo's vote.
    /// </summary>
    public double ProbeTimeoutSeconds { get; set; } = 5;

    /// <summary>Durable silos: missed probes after which a silo is suspected (Orleans' <c>NumMissedProbesLimit</c>, 3 by default).</summary>
    public int MissedProbesLimit { get; set; } = 3;

    /// <summary>
    /// How long a call between processes of the cluster (a gateway's call to a silo, a silo's to another) waits for its
    /// answer, in seconds (Orleans' <c>ResponseTimeout</c>, 30 by default). A call a silo had forwarded to a silo that
    /// then died is answered only by this timeout (503 <c>ServiceUnavailable</c>), so with the probe settings above it
    /// bounds how long a failover holds a device's request. Import and export chunks have their own, longer bound.
    /// </summary>
    public double ResponseTimeoutSeconds { get; set; } = 30;

    public TimeSpan ResponseTimeout => TimeSpan.FromSeconds(ResponseTimeoutSeconds);

    public TimeSpan StorageTimeout => TimeSpan.FromSeconds(StorageTimeoutSeconds);

    /// <summary>
    /// How long one round trip of a partition's load (its claim, a page of its query) may take: the Azure SDK's tries of
    /// it (<see cref="SiloConfiguration.StorageRetries"/> retries after the first, each within the storage timeout). One
    /// storage timeout alone failed the loads of a loaded Azurite during an import whose silo was killed, and the import
    /// never completed (a fresh-clone run of the suite, 2026-12-04).
    /// </summary>
    public TimeSpan LoadRoundTripTimeout => StorageTimeout * (SiloConfiguration.StorageRetries + 1);

    /// <summary>
    /// How long a storage write whose caller stopped waiting may still land: until its storage client's tries end (the
    /// first and <see cref="SiloConfiguration.StorageRetries"/> retries, each within the storage timeout), with room, and
    /// never under a minute. The outbox verifies a failed create or delete no sooner, and an index partition keeps a
    /// failed device write's id unsettled as long.
    /// </summary>
    public TimeSpan WriteSettleTime => TimeSpan.FromTicks(Math.Max(TimeSpan.FromMinutes(1).Ticks, StorageTimeout.Ticks * 4));

    /// <summary>
    /// Requests each group-committing Table store (batched device rows, index entries) has in flight at once. Writes
    /// arriving while every slot is busy share the next transaction of their group, so a storage that is the bottleneck
    /// gets fewer, fuller transactions instead of more, smaller ones.
    /// </summary>
    public int StorageRequestsInFlight { get; set; } = TableIndexStore.DefaultRequestsInFlight;

    /// <summary>
    /// Single storage requests a silo has in flight at once (device rows read, writes through Orleans' Table and Blob
    /// providers, heartbeat-monitor records). One that finds every slot taken waits for one, at most
    /// <see cref="StorageTimeoutSeconds"/>, and is then answered 503 unsent (<see cref="StorageTimeBound"/>).
    /// </summary>
    public int GrainStorageRequestsInFlight { get; set; } = StorageTimeBound.DefaultRequestsInFlight;

    /// <summary>
    /// Index verification checks a silo has in flight across its partitions (each activates a device and reads its row):
    /// a quarter of <see cref="GrainStorageRequestsInFlight"/> (16 by default), at least 1, so a restart's checks leave
    /// most slots to requests and the partitions' loads; the same 16 in memory mode, where they cost CPU only.
    /// </summary>
    public int IndexVerificationsInFlight => Math.Max(1, (IsDurable ? GrainStorageRequestsInFlight : StorageTimeBound.DefaultRequestsInFlight) / 4);

    /// <summary>
    /// Entries of a silo's grain directory cache (Orleans' <c>GrainDirectoryOptions.CacheSize</c>). Orleans keeps an entry
    /// after its grain deactivates, so its default of 1,000,000 held ~400 B per device a silo ever served (measured with
    /// the scale benchmark's idle phase); a lookup the cache misses asks the directory instead. At least 16: Orleans' own
    /// cache refuses fewer than 3 entries, and a silo cannot start without it.
    /// </summary>
    public int DirectoryCacheSize { get; set; } = DefaultDirectoryCacheSize;

    public const int DefaultDirectoryCacheSize = 100_000;

    public TimeSpan ShutdownTimeout => TimeSpan.FromSeconds(ShutdownTimeoutSeconds);

    /// <summary>Prefix of the tables and containers the registry creates, so several registries can share an account.</summary>
    public string StoragePrefix { get; set; } = "registry";

    public string ClusterId { get; set; } = "registry";

    public string ServiceId { get; set; } = "registry";

    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port Orleans clients connect to (Orleans' gateway port); the co-hosted gateway itself does not use it.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The address this silo advertises to the others (durable/cluster mode).</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// The values of <see cref="DeviceStorage"/>: <c>Batched</c> (<see cref="DeviceRowStorage"/>), <c>Table</c> (Orleans'
    /// Azure Table provider) and <c>Blob</c> (its blob provider). Each is a layout of its own, recorded at the first start.
    /// </summary>
    public static readonly string[] DeviceStorages = ["Batched", "Table", "Blob"];

    /// <summary>
    /// The most index partitions: a statistics call asks every partition, and at 4096 the first one after a start takes
    /// seconds and can answer 503. The default 256 already serves 10M devices.
    /// </summary>
    public const int MaxIndexPartitions = 1024;

    /// <summary>The longest timeout setting, in seconds: far beyond an hour a timeout is a typo (1e300 overflows a TimeSpan).</summary>
    public const double MaxTimeoutSeconds = 3600;

    /// <summary>The largest listen backlog: Linux caps it at net.core.somaxconn (65535 at most) anyway.</summary>
    public const int MaxListenBacklog = 65535;

    /// <summary>The least timeout: below a tenth of a second no storage call can answer, and tiny values round to zero.</summary>
    public const double MinTimeoutSeconds = 0.1;

    /// <summary>
    /// The longest storage prefix: its longest derived name, the container <c>{prefix}-devices</c>, must stay within
    /// Azure's 63 characters, with room to spare.
    /// </summary>
    public const int MaxStoragePrefixLength = 50;

    /// <summary>Index partitions, fixed for the life of the registry's storage. 256 serves 10M devices (~40k ids each).</summary>
    public int IndexPartitions { get; set; } = 256;

    /// <summary>
    /// Durable mode: the PartitionKeys index entries and batched device rows are stored under (index partition <c>p</c> in
    /// group <c>p mod StorageGroups</c>), fixed for the life of the registry's storage like <see cref="IndexPartitions"/>.
    /// The default 32 lets a bulk's writes share transactions; more keep each key's rows fewer (an import of millions
    /// into Azurite, whose writes scan their key's rows) at the cost of fuller transactions. README "Storage groups".
    /// </summary>
    public int StorageGroups { get; set; } = global::Registry.Host.StorageGroups.DefaultCount;

    /// <summary>The <see cref="StorageGroups"/> layout.</summary>
    public StorageGroups Groups => new(StorageGroups);

    /// <summary>
    /// Durable mode: the tables index entries and batched device rows are each spread over (storage group <c>g</c> in
    /// table <c>g mod StorageTables</c>), fixed for the life of the registry's storage like <see cref="StorageGroups"/>.
    /// The default 1 is one table each; more keep each table smaller, which is what bounds a million-device import into
    /// Azurite (an insert there costs in proportion to its whole table). Azure Table gains nothing from it.
    /// </summary>
    public int StorageTables { get; set; } = global::Registry.Host.StorageTables.DefaultCount;

    /// <summary>
    /// Minutes a device grain stays in memory after its last call (Orleans' collection age for <c>DeviceGrain</c>): a
    /// registry of millions keeps only its recently used devices active.
    /// </summary>
    public double DeviceIdleMinutes { get; set; } = 5;

    private const double MaxDeviceIdleMinutes = 525_600;

    public TimeSpan DeviceIdleTime => TimeSpan.FromMinutes(DeviceIdleMinutes);

    /// <summary>Missed-heartbeat monitoring's registry default (<c>Registry:Heartbeat:*</c>); off unless an interval is set.</summary>
    public HeartbeatSettings Heartbeat { get; set; } = new();

    /// <summary>
    /// Seconds between writes of devices' last activity and last heartbeat (batched by partition, never per heartbeat):
    /// what a crash can lose of them. A clean stop writes the rest.
    /// </summary>
    public double PresencePersistSeconds { get; set; } = 60;

    public TimeSpan PresencePersistInterval => TimeSpan.FromSeconds(PresencePersistSeconds);

    /// <summary>
    /// Durable mode with a route: how often the outbox is swept for the lifecycle notifications a killed or stopped silo
    /// left there, in seconds (1 to 3600): at most this long after the cluster counts the silo dead, they go out.
    /// </summary>
    public double OutboxSweepSeconds { get; set; } = 30;

    public TimeSpan OutboxSweepInterval => TimeSpan.FromSeconds(OutboxSweepSeconds);

    /// <summary>
    /// Stop (as on SIGTERM) when standard input ends: for a parent process that holds the other end of a pipe, so its
    /// death, even by kill -9, stops the registry instead of leaving it running, also while it starts (<see cref="InputEndStop"/>). Off by
    /// default: a registry started with its input on /dev/null, or detached, would stop at once.
    /// </summary>
    public bool StopWhenInputEnds { get; set; }

    /// <summary>Import/export jobs enqueued or running at once; IoT Hub allows one, and a second answers 403 JobQuotaExceeded.</summary>
    public int MaxActiveJobs { get; set; } = 1;

    /// <summary>Days an ended import/export job stays in <c>GET /jobs</c> (IoT Hub: 30).</summary>
    public double JobHistoryDays { get; set; } = 30;

    /// <summary>
    /// Import chunks (500 lines each) applied at once; unset, <see cref="EffectiveImportChunksInFlight"/> picks by the
    /// device storage. More lines in flight fill storage's transactions better, but each must still be answered within
    /// <see cref="StorageTimeoutSeconds"/>.
    /// </summary>
    public int? ImportChunksInFlight { get; set; }

    /// <summary>
    /// <see cref="ImportChunksInFlight"/> when set; otherwise 6 with <c>Batched</c> rows in durable mode (a row write
    /// waits for a request slot and shares its group's transaction, so more lines in flight make fuller transactions:
    /// measured 2 → 8 chunks took a 100k import from ~12 to ~27 rows a request), and 2 elsewhere (Orleans' providers
    /// send each row as a request of its own, which more lines in flight only pile onto storage).
    /// </summary>
    public int EffectiveImportChunksInFlight => ImportChunksInFlight
        ?? (IsDurable && string.Equals(DeviceStorage, "Batched", StringComparison.OrdinalIgnoreCase) ? 6 : new JobOptions().ImportChunksInFlight);

    /// <summary>
    /// Input lines per import chunk (the unit of checkpoint, and what a resume may apply again); unset,
    /// <see cref="EffectiveImportChunkLines"/> picks by the storage groups.
    /// </summary>
    public int? ImportChunkLines { get; set; }

    /// <summary>
    /// <see cref="ImportChunkLines"/> when set; otherwise 500 lines for every 32 storage groups in durable mode (16,000
    /// at 1,024 groups), 500 in memory mode. A chunk applies its lines group by group (500 at a time), so the writes in
    /// flight meet in a group's transactions only when a chunk holds several lines of each group: at 1,024 groups a
    /// 500-line chunk held one line in two groups, and an import's transactions carried one or two rows.
    /// </summary>
    public int EffectiveImportChunkLines => ImportChunkLines
        ?? new JobOptions().ImportChunkLines * (IsDurable ? Math.Max(1, StorageGroups / global::Registry.Host.StorageGroups.DefaultCount) : 1);

    /// <summary>SAS authentication switches (<c>Registry:Authentication:*</c>).</summary>
    public AuthenticationSettings Authentication { get; set; } = new();

    /// <summary>
    /// Shared access policies pinned by configuration, by key name (<c>Registry:AccessPolicies:&lt;name&gt;:PrimaryKey</c>);
    /// they win over the generated <c>access-policies.json</c>. Give every silo of a cluster the same ones.
    /// </summary>
    public Dictionary<string, AccessPolicySettings> AccessPolicies { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Routes for the registry's notifications (<c>Registry:Routes:0:Name</c>, <c>:Source</c>, <c>:Enabled</c>), as IoT
    /// Hub's message routes: none by default, so no lifecycle notification or heartbeat alert is produced.
    /// </summary>
    public List<RouteSettings> Routes { get; set; } = [];

    /// <summary>The sources (<c>iothub-message-source</c> spelling) at least one enabled route names.</summary>
    public IReadOnlySet<string> RoutedSources() =>
        Routes.Where(r => r.Enabled).Select(r => RegistryEventSources.TryNormalize(r.Source, out var source) ? source : null)
            .OfType<string>().ToHashSet(StringComparer.Ordinal);

    /// <summary>The hub name events carry (<c>hubName</c>, <c>user-id</c>): <see cref="HostName"/> up to its first dot.</summary>
    public string HubName => RegistryEventOptions.HubNameOf(HostName);

    public bool IsDurable => !string.IsNullOrWhiteSpace(StorageConnectionString);

    /// <summary>How a gateway (or a client app with the same settings) finds this cluster.</summary>
    public Registry.Client.RegistryClientOptions ClientOptions() => new()
    {
        StorageConnectionString = StorageConnectionString,
        ClusterId = ClusterId,
        ServiceId = ServiceId,
        StoragePrefix = StoragePrefix,
        GatewayPort = GatewayPort,
        Events = RoutedSources().Count > 0,
        ConnectTimeout = TimeSpan.FromSeconds(ClusterConnectTimeoutSeconds),
        ResponseTimeout = ResponseTimeout,
    };

    public string ResolveDataFolder() => Path.GetFullPath(DataFolder);

    /// <summary>
    /// Binds the <c>Registry</c> section. A value of the wrong type (<c>Enabled=maybe</c>) is refused with the setting's
    /// name and what it accepts, instead of the binder's exception escaping as a crash.
    /// </summary>
    public static T Bind<T>(IConfiguration section) where T : new()
    {
        EnsureDecimalIntegers(section, typeof(T));
        try
        {
            var bound = section.Get<T>() ?? new T();
            // The binder drops a list item it cannot convert without a word (Routes:0:Enabled=maybe: that route simply
            // vanishes); binding each route on its own lets the conversion failure stop the start like any other.
            foreach (var route in section.GetSection(nameof(Routes)).GetChildren())
            {
                route.Get<RouteSettings>();
            }
            return bound;
        }
        catch (InvalidOperationException e) when (Unconvertible().Match(e.Message) is { Success: true } value)
        {
            // The binder's own text names a .NET type and no range; said as every other refusal is.
            throw new RegistryStartupException(
                $"Invalid configuration, nothing was started: {value.Groups["path"].Value}={value.Groups["value"].Value} {Accepted(value.Groups["type"].Value, value.Groups["path"].Value, value.Groups["value"].Value)}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new RegistryStartupException($"Invalid configuration, nothing was started: {e.Message}", e);
        }
    }

    /// <summary>
    /// The binder reads a whole-number setting with a type converter, which also takes hexadecimal (<c>0x10</c>, <c>#10</c>)
    /// where a number-of-seconds setting refuses it; <c>IndexPartitions=0x10</c> was recorded as 16, for the life of the
    /// storage (hostile review, 2026-12-05). A whole-number setting is decimal, as the README's table gives it.
    /// </summary>
    private static void EnsureDecimalIntegers(IConfiguration section, Type type)
    {
        foreach (var property in type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
        {
            if (!property.CanWrite && property.PropertyType.IsValueType || property.GetIndexParameters().Length > 0)
            {
                continue;
            }
            var child = section.GetSection(property.Name);
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (propertyType == typeof(int) || propertyType == typeof(long))
            {
                if (child.Value is { } value && !System.Numerics.BigInteger.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
                {
                    throw new RegistryStartupException(
                        $"Invalid configuration, nothing was started: {child.Path}={value} {Accepted(typeof(int).FullName!, child.Path, value)}");
                }
            }
            else if (propertyType.IsClass && propertyType != typeof(string) && !typeof(System.Collections.IEnumerable).IsAssignableFrom(propertyType)
                && propertyType.Namespace?.StartsWith("Registry", StringComparison.Ordinal) == true && child.GetChildren().Any())
            {
                EnsureDecimalIntegers(child, propertyType);
            }
        }
    }

    /// <summary>
    /// Refuses settings the registry cannot run with, before anything is written or bound: each problem names the
    /// setting, its value and what is accepted, on one line.
    /// </summary>
    public void Validate()
    {
        var problems = new List<string>();
        void Port(string name, int value)
        {
            if (value is < 0 or > IPEndPoint.MaxPort)
            {
                problems.Add($"Registry:{name}={value} is not a port: use 0 to 65535 (0 picks a free one).");
            }
        }
        void Address(string name, string value, bool advertised = false)
        {
            if (!IPAddress.TryParse(value, out var address))
            {
                problems.Add(advertised
                    ? $"Registry:{name}={value} is not an IP address: use this machine's own, such as 127.0.0.1 (or a container's IP)."
                    : $"Registry:{name}={value} is not an IP address: use one such as 127.0.0.1 or 0.0.0.0.");
            }
            else if (advertised && (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address) is var plain
                && (plain.Equals(IPAddress.Any) || plain.Equals(IPAddress.IPv6Any) || plain.Equals(IPAddress.Broadcast) || plain.IsIPv6Multicast
                    || (plain.AddressFamily == AddressFamily.InterNetwork && plain.GetAddressBytes()[0] is >= 224 and <= 239)))
            {
                // Orleans refused it only once the silo started, with a stack (exit code 134), after files were written (a review, 2026-12-08).
                // Broadcast and multicast crashed the same way; multicast and ::ffff:0.0.0.0 even bound and joined (a re-check, 2026-12-08).
                problems.Add($"Registry:{name}={value} is no address the other silos can reach: give this machine's own, such as 127.0.0.1 (or a container's IP).");
            }
        }
        void Positive(string name, double value)
        {
            if (!(value >= MinTimeoutSeconds) || value > MaxTimeoutSeconds)
            {
                OutOfRange(name, value);
            }
        }
        void OutOfRange(string name, double value) =>
            problems.Add($"Registry:{name}={value.ToString(CultureInfo.InvariantCulture)} must be {NumberRanges[name]}.");

        if (Role is not { } role || !Roles.Contains(role.Trim(), StringComparer.OrdinalIgnoreCase))
        {
            problems.Add($"Registry:Role={Role} is not a role: use all (silo and edge in one process), silo or gateway.");
        }
        else
        {
            Role = role.Trim().ToLowerInvariant();
            if (Role != RoleAll && !IsDurable)
            {
                problems.Add($"Registry:Role={Role} needs Registry:StorageConnectionString: without it the registry is one process in memory (role all), so there is no cluster for a {Role} to form or join.");
            }
        }
        Port(nameof(HealthPort), HealthPort);
        Positive(nameof(AccessPolicyRefreshSeconds), AccessPolicyRefreshSeconds);
        Positive(nameof(ClusterConnectTimeoutSeconds), ClusterConnectTimeoutSeconds);
        Port(nameof(HttpsPort), HttpsPort);
        Port(nameof(MqttPort), MqttPort);
        Port(nameof(SiloPort), SiloPort);
        Port(nameof(GatewayPort), GatewayPort);
        // Unlike Kestrel's ports, Orleans' take 0 as no port: a silo port of 0 failed its start after files were written,
        // a gateway port of 0 left the silo unreachable to gateways and client apps.
        if (HostsSilo)
        {
            foreach (var (name, value) in new[] { (nameof(SiloPort), SiloPort), (nameof(GatewayPort), GatewayPort) }.Where(p => p.Item2 == 0))
            {
                problems.Add($"Registry:{name}=0 cannot pick a free port: a silo's ports are how the cluster and its clients reach it. Give it a port of its own (1 to 65535).");
            }
        }
        Address(nameof(ListenAddress), ListenAddress);
        Address(nameof(AdvertisedAddress), AdvertisedAddress, advertised: true);
        if (IndexPartitions is < 1 or > MaxIndexPartitions)
        {
            problems.Add($"Registry:IndexPartitions={IndexPartitions} is out of range: use 1 to {MaxIndexPartitions} (the default 256 serves 10M devices).");
        }
        const int MaxGroups = global::Registry.Host.StorageGroups.MaxCount;
        const int DefaultGroups = global::Registry.Host.StorageGroups.DefaultCount;
        if (StorageGroups is < 1 or > MaxGroups)
        {
            problems.Add($"Registry:StorageGroups={StorageGroups} is out of range: use 1 to {MaxGroups} (the default is {DefaultGroups}).");
        }
        const int MaxTables = global::Registry.Host.StorageTables.MaxCount;
        const int DefaultTables = global::Registry.Host.StorageTables.DefaultCount;
        if (StorageTables is < 1 or > MaxTables)
        {
            problems.Add($"Registry:StorageTables={StorageTables} is out of range: use 1 to {MaxTables} (the default is {DefaultTables}).");
        }
        else if (StorageGroups is >= 1 and <= MaxGroups && StorageTables > StorageGroups)
        {
            // Group g is in table g mod StorageTables: with fewer groups than tables, the tables past the last group stay empty.
            problems.Add($"Registry:StorageTables={StorageTables} is more than Registry:StorageGroups={StorageGroups}: storage group g is in table g mod StorageTables, so {(StorageTables - StorageGroups == 1 ? $"table {StorageGroups}" : $"tables {StorageGroups} to {StorageTables - 1}")} would never hold a row. Use at most {StorageGroups} tables, or more groups.");
        }
        // Orleans refuses a collection age not above its collection quantum (1 minute), and only once the silo starts.
        if (!(DeviceIdleMinutes > 1 && DeviceIdleMinutes <= MaxDeviceIdleMinutes))
        {
            OutOfRange(nameof(DeviceIdleMinutes), DeviceIdleMinutes);
        }
        if (DeviceStorage is not { } storage || !DeviceStorages.Contains(storage, StringComparer.OrdinalIgnoreCase))
        {
            problems.Add($"Registry:DeviceStorage={DeviceStorage} is not a device storage: use {string.Join(", ", DeviceStorages[..^1])} or {DeviceStorages[^1]}.");
        }
        else
        {
            DeviceStorage = char.ToUpperInvariant(storage[0]) + storage[1..].ToLowerInvariant();
        }
        Positive(nameof(StorageTimeoutSeconds), StorageTimeoutSeconds);
        Positive(nameof(ShutdownTimeoutSeconds), ShutdownTimeoutSeconds);
        if (!(ProbeTimeoutSeconds >= 0.5) || ProbeTimeoutSeconds > 60)
        {
            OutOfRange(nameof(ProbeTimeoutSeconds), ProbeTimeoutSeconds);
        }
        if (MissedProbesLimit is < 1 or > 10)
        {
            problems.Add($"Registry:MissedProbesLimit={MissedProbesLimit} must be from 1 to 10.");
        }
        if (!(ResponseTimeoutSeconds >= 1) || ResponseTimeoutSeconds > 600)
        {
            OutOfRange(nameof(ResponseTimeoutSeconds), ResponseTimeoutSeconds);
        }
        Positive(nameof(MqttConnectTimeoutSeconds), MqttConnectTimeoutSeconds);
        if (!(MqttSessionRefreshSeconds >= 0) || MqttSessionRefreshSeconds > 3600)
        {
            problems.Add($"Registry:MqttSessionRefreshSeconds={MqttSessionRefreshSeconds} is out of range: use 0 (never) to 3600 seconds.");
        }
        if (MqttMaxConnections < 1)
        {
            problems.Add($"Registry:MqttMaxConnections={MqttMaxConnections} must be at least 1.");
        }
        if (ListenBacklog is < 1 or > MaxListenBacklog)
        {
            problems.Add($"Registry:ListenBacklog={ListenBacklog} is out of range: use 1 to {MaxListenBacklog}.");
        }
        if (MaxActiveJobs < 1)
        {
            problems.Add($"Registry:MaxActiveJobs={MaxActiveJobs} must be at least 1.");
        }
        if (DirectoryCacheSize is < 16 or > 10_000_000)
        {
            problems.Add($"Registry:DirectoryCacheSize={DirectoryCacheSize} is out of range: use 16 to 10000000.");
        }
        if (StorageRequestsInFlight is < 1 or > 256)
        {
            problems.Add($"Registry:StorageRequestsInFlight={StorageRequestsInFlight} is out of range: use 1 to 256.");
        }
        if (GrainStorageRequestsInFlight is < 1 or > 4096)
        {
            problems.Add($"Registry:GrainStorageRequestsInFlight={GrainStorageRequestsInFlight} is out of range: use 1 to 4096.");
        }
        if (ImportChunksInFlight is < 1 or > 64)
        {
            problems.Add($"Registry:ImportChunksInFlight={ImportChunksInFlight} is out of range: use 1 to 64.");
        }
        if (ImportChunkLines is < 1 or > 100_000)
        {
            problems.Add($"Registry:ImportChunkLines={ImportChunkLines} is out of range: use 1 to 100000.");
        }
        if (!(JobHistoryDays > 0) || JobHistoryDays > 36_500)
        {
            OutOfRange(nameof(JobHistoryDays), JobHistoryDays);
        }
        if (!(PresencePersistSeconds >= 1) || PresencePersistSeconds > 3600)
        {
            OutOfRange(nameof(PresencePersistSeconds), PresencePersistSeconds);
        }
        if (!(OutboxSweepSeconds >= 1) || OutboxSweepSeconds > 3600)
        {
            OutOfRange(nameof(OutboxSweepSeconds), OutboxSweepSeconds);
        }
        // Bounded: 1e12 overflowed TimeSpan after files were written (exit code 134, a review, 2026-12-08), and a disabled device
        // keeps authenticating for as long as its status is cached.
        if (!(Authentication.DeviceCacheSeconds >= 0) || Authentication.DeviceCacheSeconds > 3600)
        {
            OutOfRange("Authentication:DeviceCacheSeconds", Authentication.DeviceCacheSeconds);
        }
        if (Heartbeat.Problem() is { } heartbeat)
        {
            problems.Add(heartbeat);
        }
        if (Authentication.TokenCacheSize < 1)
        {
            problems.Add($"Registry:Authentication:TokenCacheSize={Authentication.TokenCacheSize} must be at least 1.");
        }
        foreach (var (name, value) in new[] { (nameof(ServiceId), ServiceId), (nameof(ClusterId), ClusterId), (nameof(StoragePrefix), StoragePrefix), (nameof(HostName), HostName), (nameof(DataFolder), DataFolder) })
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                problems.Add($"Registry:{name} is empty: give it a value (or remove it for the default).");
            }
        }
        // The certificate's name and the connection strings' HostName: "host,x=y" crashed the start building the
        // certificate's X.500 name after the policy file and CA were written, and "a b" was taken (hostile review, 2026-12-05).
        // Uri.CheckHostName also takes '_' (a review, 2026-12-07: "a_b" started), which no DNS host name has.
        if (!string.IsNullOrWhiteSpace(HostName) && (Uri.CheckHostName(HostName) is not (UriHostNameType.Dns or UriHostNameType.IPv4)
            || !HostName.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.')))
        {
            problems.Add($"Registry:HostName={HostName} is not a host name: use a DNS name (letters, digits, hyphens and dots, as registry.example.com) or an IPv4 address.");
        }
        if (!string.IsNullOrWhiteSpace(StoragePrefix) && !IsStoragePrefix(StoragePrefix))
        {
            problems.Add($"Registry:StoragePrefix={StoragePrefix} cannot name Azure tables and containers: use 1 to {MaxStoragePrefixLength} ASCII letters, digits and single hyphens, starting with a letter and not ending with a hyphen.");
        }
        if (CertificateProblem() is { } certificate)
        {
            problems.Add(certificate);
        }
        problems.AddRange(RouteProblems());
        if (IsDurable && !IsStorageConnectionString(StorageConnectionString!))
        {
            problems.Add("Registry:StorageConnectionString is not an Azure Storage connection string: use one such as DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net, or UseDevelopmentStorage=true.");
        }
        if (problems.Count > 0)
        {
            throw new RegistryStartupException($"Invalid configuration, nothing was started: {string.Join(" ", problems)}");
        }
    }

    /// <summary>IoT Hub's rule for a route name: 1 to 64 letters, digits, '-', '.' or '_'.</summary>
    private static bool IsRouteName(string? name) =>
        name is not null && Regex.IsMatch(name, "^[A-Za-z0-9._-]{1,64}$", RegexOptions.CultureInvariant);

    /// <summary>Each route names a known source and a name of its own; names are compared ignoring case, as IoT Hub does.</summary>
    private IEnumerable<string> RouteProblems()
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var sources = string.Join(" or ", RegistryEventSources.All.Select(RegistryEventSources.RouteName));
        for (var i = 0; i < Routes.Count; i++)
        {
            var route = Routes[i];
            if (!IsRouteName(route.Name))
            {
                yield return $"Registry:Routes:{i}:Name={route.Name} is not a route name: use 1 to 64 letters, digits, '-', '.' or '_'.";
            }
            else if (!names.Add(route.Name!))
            {
                yield return $"Registry:Routes:{i}:Name={route.Name} names another route too: give each route a name of its own.";
            }
            if (!RegistryEventSources.TryNormalize(route.Source, out _))
            {
                yield return $"Registry:Routes:{i}:Source={route.Source} is not a route source: use {sources}.";
            }
        }
    }

    /// <summary>
    /// The prefix names the tables <c>{letters and digits}Devices/Index/Cluster/Reminders</c> (alphanumeric, starting
    /// with a letter) and the containers <c>{prefix}-index</c>/<c>-devices</c> lowercased (no double or trailing hyphen).
    /// </summary>
    private static bool IsStoragePrefix(string prefix) =>
        prefix.Length <= MaxStoragePrefixLength && Regex.IsMatch(prefix, "^[A-Za-z](?:-?[A-Za-z0-9])*$", RegexOptions.CultureInvariant);

    /// <summary>The extended key usage a TLS server certificate needs (id-kp-serverAuth).</summary>
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    /// <summary>A configured certificate is loaded once here, so a wrong path or password is refused before anything is written.</summary>
    private string? CertificateProblem()
    {
        if (CertificatePath is not { Length: > 0 } path)
        {
            return null;
        }
        if (!File.Exists(path))
        {
            return $"Registry:CertificatePath={path} does not exist: give the path of a PFX file (or remove it to use a generated certificate).";
        }
        try
        {
            using var certificate = X509CertificateLoader.LoadPkcs12FromFile(path, CertificatePassword);
            // Without its key Kestrel refused it only once the silo had started, with a stack (exit code 134, a review, 2026-12-08).
            if (!certificate.HasPrivateKey)
            {
                return $"Registry:CertificatePath={path} holds a certificate without its private key: HTTPS and MQTT need both, so give a PFX exported with the key.";
            }
            // An extended key usage without server authentication: Kestrel refused it only once the silo had started (a re-check, 2026-12-08).
            var usageExtensions = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().ToList();
            return usageExtensions.Count > 0 && !usageExtensions.SelectMany(e => e.EnhancedKeyUsages.Cast<Oid>()).Any(u => u.Value == ServerAuthentication)
                ? $"Registry:CertificatePath={path} holds a certificate whose extended key usage does not allow server authentication: give one issued for TLS servers."
                : null;
        }
        catch (CryptographicException e)
        {
            return $"Registry:CertificatePath={path} cannot be loaded with Registry:CertificatePassword ({e.Message.TrimEnd('.')}): give a PFX file and its password.";
        }
    }

    /// <summary>The clients the silo builds later parse it the same way; their exception would otherwise escape as a crash.</summary>
    private static bool IsStorageConnectionString(string connectionString)
    {
        try
        {
            _ = new TableServiceClient(connectionString);
            _ = new BlobServiceClient(connectionString);
            return true;
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>What the timeouts accept; before <see cref="NumberRanges"/>, whose initializer reads it.</summary>
    private static readonly string TimeoutRange =
        FormattableString.Invariant($"a number of seconds from {MinTimeoutSeconds} to {MaxTimeoutSeconds}");

    /// <summary>
    /// What each setting that takes a number (not only whole numbers) accepts, said alike when the number is out of range
    /// and when the value is no number at all. Keyed by the path under <c>Registry:</c>, in any case as configuration is.
    /// </summary>
    private static readonly Dictionary<string, string> NumberRanges = new(StringComparer.OrdinalIgnoreCase)
    {
        [nameof(AccessPolicyRefreshSeconds)] = TimeoutRange,
        [nameof(ClusterConnectTimeoutSeconds)] = TimeoutRange,
        [nameof(StorageTimeoutSeconds)] = TimeoutRange,
        [nameof(ShutdownTimeoutSeconds)] = TimeoutRange,
        [nameof(MqttConnectTimeoutSeconds)] = TimeoutRange,
        [nameof(ProbeTimeoutSeconds)] = "a number of seconds from 0.5 to 60",
        [nameof(ResponseTimeoutSeconds)] = "a number of seconds from 1 to 600",
        [nameof(DeviceIdleMinutes)] = FormattableString.Invariant($"a number of minutes above 1 (Orleans' collection quantum) and at most {MaxDeviceIdleMinutes} (a year)"),
        [nameof(PresencePersistSeconds)] = "a number of seconds from 1 to 3600",
        [nameof(OutboxSweepSeconds)] = "a number of seconds from 1 to 3600",
        [nameof(MqttSessionRefreshSeconds)] = "a number of seconds from 0 (never) to 3600",
        [nameof(JobHistoryDays)] = "a number of days above 0 (at most 36500)",
        ["Authentication:DeviceCacheSeconds"] = "a number of seconds from 0 to 3600",
    };

    /// <summary>The binder's text for a value it cannot convert to the setting's type.</summary>
    [GeneratedRegex("^Failed to convert configuration value '(?<value>.*)' at '(?<path>[^']+)' to type '(?<type>[^']+)'", RegexOptions.Singleline)]
    private static partial Regex Unconvertible();

    /// <summary>What a setting of <paramref name="type"/> (a .NET type name) accepts, said for <paramref name="path"/>.</summary>
    private static string Accepted(string type, string path, string value)
    {
        if (type == typeof(bool).FullName)
        {
            return "is not true or false: use true or false.";
        }
        if (type == typeof(int).FullName || type.StartsWith("System.Nullable`1[[System.Int32", StringComparison.Ordinal))
        {
            if (path.EndsWith("Port", StringComparison.Ordinal))
            {
                return "is not a port number: use a whole number from 0 to 65535.";
            }
            // A whole number past what the setting can hold is out of range, not something else (a review read
            // "StorageTables=99999999999 is not a whole number").
            return System.Numerics.BigInteger.TryParse(value, NumberStyles.AllowLeadingSign | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out _)
                ? "is out of range: use a whole number within the setting's range (the README's settings table)."
                : "is not a whole number: use a whole number.";
        }
        if (type == typeof(double).FullName)
        {
            // With the setting's range, as when the number is out of it (a review read "JobHistoryDays=abc is not a number:
            // use a number", which said nothing of what number).
            return path.StartsWith("Registry:", StringComparison.OrdinalIgnoreCase) && NumberRanges.TryGetValue(path["Registry:".Length..], out var range)
                ? $"is not a number: use {range}."
                : "is not a number: use a number.";
        }
        var enumType = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(type)).FirstOrDefault(t => t is { IsEnum: true });
        return enumType is null ? "cannot be read." : $"is not one of {string.Join(", ", Enum.GetNames(enumType))}: use one of them.";
    }
}

/// <summary>
/// The registry's default heartbeat policy (<c>Registry:Heartbeat:IntervalSeconds</c> and <c>GraceSeconds</c>, whole
/// seconds): off unless an interval is set (<c>0</c> says off); grace 0 unless set. Devices override it with
/// <c>PUT /devices/{id}/heartbeat</c>. In durable mode the cluster keeps it in its storage (<see cref="ClusterHeartbeatDefault"/>):
/// a silo that sets none takes the stored one, a silo that sets one (0 included) makes it the cluster's.
/// </summary>
public sealed class HeartbeatSettings
{
    public int? IntervalSeconds { get; set; }

    public int? GraceSeconds { get; set; }

    /// <summary>Whether this process says what the default is (an interval, or 0 for off), rather than leaving it to the cluster.</summary>
    public bool IsSet => IntervalSeconds is not null;

    public HeartbeatPolicy? DefaultPolicy => IntervalSeconds is { } interval and not 0 ? new HeartbeatPolicy(interval, GraceSeconds ?? 0) : null;

    /// <summary>One line naming the setting when the policy cannot be used, else null.</summary>
    public string? Problem()
    {
        if (GraceSeconds is < 0 or > HeartbeatPolicy.MaxSeconds)
        {
            return $"Registry:Heartbeat:GraceSeconds={GraceSeconds} is out of range: use 0 to {HeartbeatPolicy.MaxSeconds} seconds.";
        }
        if (IntervalSeconds is null)
        {
            // A policy is an interval and a grace, set (and, durable, stored as the cluster's) together.
            return GraceSeconds is { } grace
                ? $"Registry:Heartbeat:GraceSeconds={grace} is set without Registry:Heartbeat:IntervalSeconds: a default is an interval plus a grace, set together (a grace alone changes nothing), so set the interval too, or remove the grace."
                : null;
        }
        if (IntervalSeconds == 0)
        {
            return GraceSeconds is { } offGrace and not 0
                ? $"Registry:Heartbeat:GraceSeconds={offGrace} is set with Registry:Heartbeat:IntervalSeconds=0 (monitoring off): set an interval, or remove the grace."
                : null;
        }
        var policy = DefaultPolicy!;
        if (policy.IntervalSeconds is < HeartbeatPolicy.MinIntervalSeconds or > HeartbeatPolicy.MaxSeconds)
        {
            return $"Registry:Heartbeat:IntervalSeconds={policy.IntervalSeconds} is out of range: use {HeartbeatPolicy.MinIntervalSeconds} to {HeartbeatPolicy.MaxSeconds} seconds, or 0 for monitoring off.";
        }
        return policy.GraceSeconds is < 0 or > HeartbeatPolicy.MaxSeconds
            ? $"Registry:Heartbeat:GraceSeconds={policy.GraceSeconds} is out of range: use 0 to {HeartbeatPolicy.MaxSeconds} seconds."
            : null;
    }
}

/// <summary>One route (IoT Hub's message route, without endpoint or condition): its source's events are produced while it is enabled.</summary>
public sealed class RouteSettings
{
    public string? Name { get; set; }

    /// <summary>As IoT Hub spells route sources: <c>DeviceLifecycleEvents</c> or <c>HeartbeatEvents</c> (any case).</summary>
    public string? Source { get; set; }

    public bool Enabled { get; set; } = true;
}

/// <summary>How the gateway checks SAS tokens; see <c>Registry.Gateway.Security.SharedAccessOptions</c>.</summary>
public sealed class AuthenticationSettings
{
    /// <summary>
    /// Always true unless explicitly set to false (benchmarks, closed test networks): then every registry endpoint
    /// answers anonymous callers and the host says so at Warning level on every start.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How long a device's status and keys are reused by device authentication, in seconds.</summary>
    public double DeviceCacheSeconds { get; set; } = 10;

    /// <summary>Most validated tokens kept in memory.</summary>
    public int TokenCacheSize { get; set; } = 50_000;
}
