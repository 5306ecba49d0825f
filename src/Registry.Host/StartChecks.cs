using System.Net;
using System.Net.Sockets;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Registry.Abstractions;
using Registry.Gateway.Throttling;

namespace Registry.Host;

/// <summary>
/// Settings that belong to the gateway's parts (throttles, pinned access policies), checked with the other settings
/// before anything is written: built later, their mistakes surfaced after the policy file, the certificates and the
/// owner connection string were already written, and as a stack trace rather than one line.
/// </summary>
internal static class StartChecks
{
    public static void Validate(IConfigurationSection registry, RegistrySettings settings)
    {
        var throttling = RegistrySettings.Bind<ThrottlingOptions>(registry.GetSection(ThrottlingOptions.Section));
        var problems = new List<string>(throttling.Problems());
        // The binder also takes an enum's number ("0", "6"); a tier is named, as the README lists them.
        if (registry.GetSection(ThrottlingOptions.Section)["Tier"] is { } tier && Enum.IsDefined(throttling.Tier)
            && !Enum.GetNames<HubTier>().Contains(tier.Trim(), StringComparer.OrdinalIgnoreCase))
        {
            problems.Add($"Registry:Throttling:Tier={tier} is not one of {string.Join(", ", Enum.GetNames<HubTier>())}: use one of them.");
        }
        foreach (var (name, policy) in settings.AccessPolicies)
        {
            try
            {
                policy.ToPolicy(name);
            }
            catch (ArgumentException e)
            {
                problems.Add($"Registry:AccessPolicies:{name} is not usable: {AccessPolicyStore.Sentence(e)}");
            }
        }
        if (problems.Count > 0)
        {
            throw new RegistryStartupException($"Invalid configuration, nothing was started: {string.Join(" ", problems)}");
        }
        ObservabilitySettings.Bind(registry).Validate(settings.ServesEdge);
        if (settings.HostsSilo && settings.IsDurable && !IsOwnAddress(IPAddress.Parse(settings.AdvertisedAddress)))
        {
            throw new RegistryStartupException(
                $"Registry:AdvertisedAddress={settings.AdvertisedAddress} is not an address of this machine: the other silos and the clients " +
                "would look for this silo there, and Orleans would keep it Active all the same (the silos probe it over the connections it " +
                "opens to them). Advertise an address of one of this machine's interfaces (in a container, the container's own). Nothing was started.");
        }
    }

    /// <summary>
    /// Before Orleans starts: whether the storage of a durable registry answers (a table and a container listing, no SDK retries, each
    /// attempt bounded by <c>Registry:StorageTimeoutSeconds</c>). Storage that cannot be reached after
    /// <paramref name="attempts"/> tries, or that refuses the credentials (a bad signature, or any refusal of the account
    /// key), is thrown as the refusal
    /// <see cref="RegistryHost.RefusalOf"/> words; left to Orleans, the same start printed some 600 lines of stack traces
    /// from each of its storage providers before that line. A refusal of a SAS's rights (a SAS without service-level
    /// rights, say) lets the start go on: the providers' own calls are the judge of those. Any other answer is not the
    /// service's (another storage service, another HTTP server on that endpoint) and refuses the start in one line.
    /// </summary>
    internal static void EnsureStorageAnswers(RegistrySettings settings, int attempts = 3)
    {
        var tableOptions = new TableClientOptions();
        tableOptions.Retry.MaxRetries = 0;
        tableOptions.Retry.NetworkTimeout = settings.StorageTimeout;
        var tables = new TableServiceClient(settings.StorageConnectionString, tableOptions);
        var blobOptions = new BlobClientOptions();
        blobOptions.Retry.MaxRetries = 0;
        blobOptions.Retry.NetworkTimeout = settings.StorageTimeout;
        var blobs = new BlobServiceClient(settings.StorageConnectionString, blobOptions);
        // Both services the silo's providers use at start (a connection string may name them apart, or one not at all).
        (string Service, Uri Endpoint, Func<CancellationToken, Task> Probe)[] probes =
        [
            ("Table", tables.Uri, async ct =>
            {
                await foreach (var _ in tables.QueryAsync(filter: "TableName eq 'registrystartcheck'", maxPerPage: 1, cancellationToken: ct).AsPages())
                {
                    break;
                }
            }),
            ("Blob", blobs.Uri, async ct =>
            {
                await foreach (var _ in blobs.GetBlobContainersAsync(prefix: "registrystartcheck", cancellationToken: ct).AsPages(pageSizeHint: 1))
                {
                    break;
                }
            }),
        ];
        foreach (var (service, endpoint, probe) in probes)
        {
            EnsureAnswers(service, endpoint, probe, settings, attempts);
        }
    }

    private static void EnsureAnswers(string service, Uri endpoint, Func<CancellationToken, Task> probe, RegistrySettings settings, int attempts)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                ProbeAsync(probe, settings.StorageTimeout).GetAwaiter().GetResult();
                return;
            }
            catch (RequestFailedException e) when (e.Status is > 0 and not (408 or >= 500))
            {
                // A signature storage rejects; or, signed with the account key (which has every right), any refusal.
                if (e.Status is 401 or 403 && (e.ErrorCode == "AuthenticationFailed" || SignedWithAccountKey(settings.StorageConnectionString!)))
                {
                    throw;
                }
                if (e.Status is 401 or 403)
                {
                    return; // a SAS without service-level rights: the providers' own calls are the judge
                }
                // Any other answer is not the service's answer to a listing it serves to every account: another service on
                // that endpoint (a table endpoint on the blob port answered 400 "invalid characters"), or another HTTP
                // server (404). Left to Orleans, the start crashed with stack traces after writing its data folder
                // (hostile review, 2026-12-05).
                var code = string.IsNullOrEmpty(e.ErrorCode) ? "" : $" {e.ErrorCode}";
                throw NotTheService(service, endpoint, $"HTTP {e.Status}{code}", e);
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or System.Xml.XmlException or ArgumentException or FormatException or InvalidOperationException)
            {
                // A success whose body the storage client cannot read as the listing: a plain HTTP server answering 200, or
                // the queue service on the blob endpoint (re-check of the fix, 2026-12-05: each crashed the start, exit 134).
                throw NotTheService(service, endpoint, "an answer that is not a listing", e);
            }
            catch (Exception e) when (e is RequestFailedException or HttpRequestException or IOException or StorageUnavailableException)
            {
                if (attempt >= attempts)
                {
                    throw e as StorageUnavailableException ?? new StorageUnavailableException((e is RequestFailedException ? e : Innermost(e)).Message.Split('\n', 2)[0].Trim());
                }
                // Storage starting beside the registry (a compose file, a test) gets a moment to come up.
                Thread.Sleep(TimeSpan.FromSeconds(1));
            }
        }
    }

    private static RegistryStartupException NotTheService(string service, Uri endpoint, string answer, Exception e) => new(
        $"Storage at {endpoint.GetLeftPart(UriPartial.Path)} did not answer as the Azure {service} service while the registry started " +
        $"({answer} to a listing of its {(service == "Table" ? "tables" : "containers")}): check the {service}Endpoint and account " +
        "in Registry:StorageConnectionString. Nothing was served.", e);

    private static bool SignedWithAccountKey(string connectionString) =>
        connectionString.Contains("AccountKey=", StringComparison.OrdinalIgnoreCase)
        || connectionString.Contains("UseDevelopmentStorage=true", StringComparison.OrdinalIgnoreCase);

    private static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;

    private static async Task ProbeAsync(Func<CancellationToken, Task> probe, TimeSpan timeout)
    {
        using var bounded = new CancellationTokenSource(timeout);
        try
        {
            await probe(bounded.Token);
        }
        catch (OperationCanceledException) when (bounded.IsCancellationRequested)
        {
            throw new StorageUnavailableException($"no answer within {timeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>
    /// Whether <paramref name="address"/> is one of this machine's: the operating system lets a socket bind it (a
    /// loopback address on Linux, an interface's own address; not one behind a NAT or of another host). Any other
    /// failure to bind says nothing about the address, and does not refuse the start.
    /// </summary>
    internal static bool IsOwnAddress(IPAddress address)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, 0));
            return true;
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode != SocketError.AddressNotAvailable;
        }
    }
}
