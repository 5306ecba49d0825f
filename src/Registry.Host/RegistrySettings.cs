namespace Registry.Host;

/// <summary>
/// Every setting of the registry process, bound from the <c>Registry</c> configuration section
/// (appsettings.json, <c>Registry__Name</c> environment variables, or <c>--Registry:Name=value</c>).
/// </summary>
public sealed class RegistrySettings
{
    public const string Section = "Registry";

    /// <summary>Where the host keeps what it generates (certificates). Relative paths are under the working directory.</summary>
    public string DataFolder { get; set; } = "registry-data";

    /// <summary>The host name the registry answers for (SAS audience, certificate SAN).</summary>
    public string HostName { get; set; } = "localhost";

    /// <summary>The address Kestrel listens on. 0.0.0.0 to serve other machines (containers).</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>The HTTPS port. The official SDKs only speak 443; 8443 needs no root. 0 picks a free port.</summary>
    public int HttpsPort { get; set; } = 8443;

    /// <summary>A PFX to serve instead of the generated one.</summary>
    public string? CertificatePath { get; set; }

    public string? CertificatePassword { get; set; }

    /// <summary>Azure Storage connection string. Empty: the embedded default (memory storage, nothing survives a restart).</summary>
    public string? StorageConnectionString { get; set; }

    /// <summary>Where device identities live in durable mode: <c>Table</c> or <c>Blob</c>. The index is always an Azure Table.</summary>
    public string DeviceStorage { get; set; } = "Table";

    /// <summary>
    /// Longest a storage operation may take, in seconds: beyond it (or at once when storage is unreachable) a request
    /// answers 503 <c>ServiceUnavailable</c>, which the SDKs retry. A request makes a few storage operations in a row.
    /// </summary>
    public double StorageTimeoutSeconds { get; set; } = 5;

    /// <summary>How long a stopping host (SIGTERM, Ctrl+C) waits for a graceful shutdown before it stops anyway, in seconds.</summary>
    public double ShutdownTimeoutSeconds { get; set; } = 15;

    public TimeSpan StorageTimeout => TimeSpan.FromSeconds(StorageTimeoutSeconds);

    public TimeSpan ShutdownTimeout => TimeSpan.FromSeconds(ShutdownTimeoutSeconds);

    /// <summary>Prefix of the tables and containers the registry creates, so several registries can share an account.</summary>
    public string StoragePrefix { get; set; } = "registry";

    public string ClusterId { get; set; } = "registry";

    public string ServiceId { get; set; } = "registry";

    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port Orleans clients (client apps, a separate gateway) connect to.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The address this silo advertises to the others (durable/cluster mode).</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>Index partitions, fixed for the life of the registry's storage. 256 serves 10M devices (~40k ids each).</summary>
    public int IndexPartitions { get; set; } = 256;

    /// <summary>
    /// Minutes a device grain stays in memory after its last call (Orleans' collection age for <c>DeviceGrain</c>): a
    /// registry of millions keeps only its recently used devices active.
    /// </summary>
    public double DeviceIdleMinutes { get; set; } = 5;

    public TimeSpan DeviceIdleTime => TimeSpan.FromMinutes(DeviceIdleMinutes);

    /// <summary>SAS authentication switches (<c>Registry:Authentication:*</c>).</summary>
    public AuthenticationSettings Authentication { get; set; } = new();

    /// <summary>
    /// Shared access policies pinned by configuration, by key name (<c>Registry:AccessPolicies:&lt;name&gt;:PrimaryKey</c>);
    /// they win over the generated <c>access-policies.json</c>. Give every silo of a cluster the same ones.
    /// </summary>
    public Dictionary<string, AccessPolicySettings> AccessPolicies { get; set; } = new(StringComparer.Ordinal);

    public bool IsDurable => !string.IsNullOrWhiteSpace(StorageConnectionString);

    public string ResolveDataFolder() => Path.GetFullPath(DataFolder);
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
