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

    /// <summary>Where device identities live in durable mode: <c>Table</c> or <c>Blob</c>. Index partitions always use Blob.</summary>
    public string DeviceStorage { get; set; } = "Table";

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

    /// <summary>Index partitions: target device count / 4,000, fixed for the life of the registry's storage.</summary>
    public int IndexPartitions { get; set; } = 256;

    public bool IsDurable => !string.IsNullOrWhiteSpace(StorageConnectionString);

    public string ResolveDataFolder() => Path.GetFullPath(DataFolder);
}
