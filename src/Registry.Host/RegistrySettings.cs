using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Azure.Data.Tables;
using Azure.Storage.Blobs;

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

    /// <summary>Port Orleans clients connect to (Orleans' gateway port); the co-hosted gateway itself does not use it.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The address this silo advertises to the others (durable/cluster mode).</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// The most index partitions: a statistics call asks every partition, and at 4096 the first one after a start takes
    /// seconds and can answer 503. The default 256 already serves 10M devices.
    /// </summary>
    public const int MaxIndexPartitions = 1024;

    /// <summary>The longest timeout setting, in seconds: far beyond an hour a timeout is a typo (1e300 overflows a TimeSpan).</summary>
    public const double MaxTimeoutSeconds = 3600;

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
    /// Minutes a device grain stays in memory after its last call (Orleans' collection age for <c>DeviceGrain</c>): a
    /// registry of millions keeps only its recently used devices active.
    /// </summary>
    public double DeviceIdleMinutes { get; set; } = 5;

    public TimeSpan DeviceIdleTime => TimeSpan.FromMinutes(DeviceIdleMinutes);

    /// <summary>Import/export jobs enqueued or running at once; IoT Hub allows one, and a second answers 403 JobQuotaExceeded.</summary>
    public int MaxActiveJobs { get; set; } = 1;

    /// <summary>Days an ended import/export job stays in <c>GET /jobs</c> (IoT Hub: 30).</summary>
    public double JobHistoryDays { get; set; } = 30;

    /// <summary>SAS authentication switches (<c>Registry:Authentication:*</c>).</summary>
    public AuthenticationSettings Authentication { get; set; } = new();

    /// <summary>
    /// Shared access policies pinned by configuration, by key name (<c>Registry:AccessPolicies:&lt;name&gt;:PrimaryKey</c>);
    /// they win over the generated <c>access-policies.json</c>. Give every silo of a cluster the same ones.
    /// </summary>
    public Dictionary<string, AccessPolicySettings> AccessPolicies { get; set; } = new(StringComparer.Ordinal);

    public bool IsDurable => !string.IsNullOrWhiteSpace(StorageConnectionString);

    public string ResolveDataFolder() => Path.GetFullPath(DataFolder);

    /// <summary>
    /// Binds the <c>Registry</c> section. A value of the wrong type (<c>Enabled=maybe</c>) is refused with the setting's
    /// name and what it accepts, instead of the binder's exception escaping as a crash.
    /// </summary>
    public static T Bind<T>(IConfiguration section) where T : new()
    {
        try
        {
            return section.Get<T>() ?? new T();
        }
        catch (InvalidOperationException e)
        {
            throw new RegistryStartupException($"{e.Message} {Accepted(e.Message)}Nothing was started.", e);
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
        void Address(string name, string value)
        {
            if (!IPAddress.TryParse(value, out _))
            {
                problems.Add($"Registry:{name}={value} is not an IP address: use one such as 127.0.0.1 or 0.0.0.0.");
            }
        }
        void Positive(string name, double value)
        {
            if (!(value >= MinTimeoutSeconds) || value > MaxTimeoutSeconds)
            {
                problems.Add($"Registry:{name}={value.ToString(CultureInfo.InvariantCulture)} must be a number of seconds from {MinTimeoutSeconds.ToString(CultureInfo.InvariantCulture)} to {MaxTimeoutSeconds.ToString(CultureInfo.InvariantCulture)}.");
            }
        }

        Port(nameof(HttpsPort), HttpsPort);
        Port(nameof(SiloPort), SiloPort);
        Port(nameof(GatewayPort), GatewayPort);
        Address(nameof(ListenAddress), ListenAddress);
        Address(nameof(AdvertisedAddress), AdvertisedAddress);
        if (IndexPartitions is < 1 or > MaxIndexPartitions)
        {
            problems.Add($"Registry:IndexPartitions={IndexPartitions} is out of range: use 1 to {MaxIndexPartitions} (the default 256 serves 10M devices).");
        }
        if (!(DeviceIdleMinutes > 0) || double.IsInfinity(DeviceIdleMinutes))
        {
            problems.Add($"Registry:DeviceIdleMinutes={DeviceIdleMinutes.ToString(CultureInfo.InvariantCulture)} must be a number of minutes above 0.");
        }
        if (DeviceStorage is not { } storage || !(storage.Equals("Table", StringComparison.OrdinalIgnoreCase) || storage.Equals("Blob", StringComparison.OrdinalIgnoreCase)))
        {
            problems.Add($"Registry:DeviceStorage={DeviceStorage} is not a device storage: use Table or Blob.");
        }
        else
        {
            DeviceStorage = char.ToUpperInvariant(storage[0]) + storage[1..].ToLowerInvariant();
        }
        Positive(nameof(StorageTimeoutSeconds), StorageTimeoutSeconds);
        Positive(nameof(ShutdownTimeoutSeconds), ShutdownTimeoutSeconds);
        if (!(Authentication.DeviceCacheSeconds >= 0) || double.IsInfinity(Authentication.DeviceCacheSeconds))
        {
            problems.Add($"Registry:Authentication:DeviceCacheSeconds={Authentication.DeviceCacheSeconds.ToString(CultureInfo.InvariantCulture)} must be a number of seconds, 0 or more.");
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
        if (!string.IsNullOrWhiteSpace(StoragePrefix) && !IsStoragePrefix(StoragePrefix))
        {
            problems.Add($"Registry:StoragePrefix={StoragePrefix} cannot name Azure tables and containers: use 1 to {MaxStoragePrefixLength} ASCII letters, digits and single hyphens, starting with a letter and not ending with a hyphen.");
        }
        if (CertificateProblem() is { } certificate)
        {
            problems.Add(certificate);
        }
        if (IsDurable && !IsStorageConnectionString(StorageConnectionString!))
        {
            problems.Add("Registry:StorageConnectionString is not an Azure Storage connection string: use one such as DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net, or UseDevelopmentStorage=true.");
        }
        if (problems.Count > 0)
        {
            throw new RegistryStartupException($"Invalid configuration, nothing was started: {string.Join(" ", problems)}");
        }
    }

    /// <summary>
    /// The prefix names the tables <c>{letters and digits}Devices/Index/Cluster/Reminders</c> (alphanumeric, starting
    /// with a letter) and the containers <c>{prefix}-index</c>/<c>-devices</c> lowercased (no double or trailing hyphen).
    /// </summary>
    private static bool IsStoragePrefix(string prefix) =>
        prefix.Length <= MaxStoragePrefixLength && Regex.IsMatch(prefix, "^[A-Za-z](?:-?[A-Za-z0-9])*$", RegexOptions.CultureInvariant);

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
            return null;
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

    /// <summary>What a setting of the type the binder names accepts.</summary>
    private static string Accepted(string binderMessage)
    {
        var type = Regex.Match(binderMessage, "to type '([^']+)'").Groups[1].Value;
        if (type == typeof(bool).FullName)
        {
            return "Use true or false. ";
        }
        if (type == typeof(int).FullName)
        {
            return "Use a whole number. ";
        }
        if (type == typeof(double).FullName)
        {
            return "Use a number. ";
        }
        var enumType = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(type)).FirstOrDefault(t => t is { IsEnum: true });
        return enumType is null ? "" : $"Use one of {string.Join(", ", Enum.GetNames(enumType))}. ";
    }
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
