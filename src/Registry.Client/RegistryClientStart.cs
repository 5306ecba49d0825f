using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Hosting;

namespace Registry.Client;

/// <summary>
/// Starts a client app's host and says in one line what is missing when it cannot: the cluster's storage (asked first,
/// once and without retries, so its absence is said at once rather than after
/// <see cref="RegistryClientOptions.ConnectTimeout"/> of Orleans retrying and logging it) or the cluster's silos.
/// </summary>
public static class RegistryClientStart
{
    private static readonly TimeSpan StorageTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Starts <paramref name="host"/> (whose Orleans client <paramref name="options"/> configured): null once started,
    /// else the line naming what is missing. Any other failure of the start is thrown as it is.
    /// </summary>
    public static async Task<string?> StartAsync(IHost host, RegistryClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        if (ConnectionStringProblem(options) is { } unusable)
        {
            return unusable;
        }
        if (await StorageMissingAsync(options, cancellationToken) is { } storage)
        {
            return storage;
        }
        try
        {
            await host.StartAsync(cancellationToken);
            return null;
        }
        catch (RegistryServiceIdMismatchException mismatch)
        {
            return mismatch.Message;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Storage may have gone since it was asked: asked again.
            var missing = await StorageMissingAsync(options, cancellationToken);
            if (missing is null && IsUnreachableCluster(e))
            {
                missing = options.IsDurable
                    ? $"No silo of the registry cluster '{options.ClusterId}' answered: start its silos, or check Registry:ClusterId ('{options.ClusterId}'), Registry:ServiceId ('{options.ServiceId}') and Registry:StoragePrefix ('{options.StoragePrefix}') against theirs."
                    : $"No registry answered on Orleans' gateway port {options.GatewayPort} of this machine: start it (Registry:Role=all), or set Registry:StorageConnectionString for a cluster.";
            }
            if (missing is null)
            {
                throw;
            }
            return missing;
        }
    }

    /// <summary>
    /// A connection string the Azure SDK cannot parse (<c>garbage</c>) said in one line; it was thrown from the storage
    /// check as the SDK's InvalidOperationException, and a client app ended on its stack trace. The value is not repeated:
    /// it may hold an account key.
    /// </summary>
    private static string? ConnectionStringProblem(RegistryClientOptions options)
    {
        if (!options.IsDurable)
        {
            return null;
        }
        try
        {
            _ = new TableServiceClient(options.StorageConnectionString);
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
        {
            return $"Registry:StorageConnectionString is not an Azure Storage connection string ({e.Message.TrimEnd('.')}): copy the cluster's own.";
        }
    }

    private static async Task<string?> StorageMissingAsync(RegistryClientOptions options, CancellationToken cancellationToken) =>
        options.IsDurable && await StorageProblemAsync(options, cancellationToken) is { } problem
            ? $"The registry cluster's storage did not answer ({problem}): check Registry:StorageConnectionString and that storage is up."
            : null;

    private static bool IsUnreachableCluster(Exception? e) => e switch
    {
        null => false,
        SiloUnavailableException or OrleansMessageRejectionException or TimeoutException or RequestFailedException => true,
        AggregateException all => all.InnerExceptions.Any(IsUnreachableCluster),
        OrleansException => true,
        _ => IsUnreachableCluster(e.InnerException),
    };

    /// <summary>What is wrong with the cluster's storage (one table listing, no retries), or null when it answers.</summary>
    private static async Task<string?> StorageProblemAsync(RegistryClientOptions options, CancellationToken cancellationToken)
    {
        var clientOptions = new TableClientOptions();
        clientOptions.Retry.MaxRetries = 0;
        clientOptions.Retry.NetworkTimeout = StorageTimeout;
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(StorageTimeout);
        try
        {
            var tables = new TableServiceClient(options.StorageConnectionString, clientOptions);
            var name = RegistryClusterNames.MembershipTable(options.StoragePrefix);
            await foreach (var _ in tables.QueryAsync(filter: $"TableName eq '{name}'", maxPerPage: 1, cancellationToken: bounded.Token).AsPages())
            {
                break;
            }
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"no answer within {StorageTimeout.TotalSeconds:0} s";
        }
        catch (RequestFailedException e) when (e.Status > 0)
        {
            return e.Status is 401 or 403 ? $"it refused the credentials, HTTP {e.Status}" : $"HTTP {e.Status}";
        }
        catch (Exception e) when (e is RequestFailedException or AggregateException or HttpRequestException or IOException)
        {
            // The innermost cause ("Connection refused (127.0.0.1:10002)"): the outer ones are the SDK's retry wrappers.
            var inner = e;
            while (inner.InnerException is { } next)
            {
                inner = next;
            }
            return inner.Message.Split('\n', 2)[0].Trim();
        }
    }
}
