using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Registry.Abstractions;

namespace Registry.Host;

/// <summary>
/// Whether this process belongs to a cluster that can serve: a silo is <c>Active</c> in the membership, an Orleans
/// client (a gateway without grains) reaches an active silo. Descriptions name states, never addresses or keys.
/// </summary>
internal sealed class ClusterReadiness(IServiceProvider services) : IHealthCheck
{
    public static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(2);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (services.GetService<ILocalSiloDetails>() is { } silo)
        {
            // The silo's own view: no call to make, and the view a silo acts upon.
            var status = services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.GetSiloStatus(silo.SiloAddress);
            return status == SiloStatus.Active
                ? HealthCheckResult.Healthy("silo active")
                : HealthCheckResult.Unhealthy($"this silo is {status}, not Active in the cluster");
        }
        try
        {
            // The answering silo's view in memory: storage down is the storage check's to report, not this one's.
            var active = await services.GetRequiredService<IGrainFactory>().GetGrain<IClusterViewGrain>(0)
                .ActiveSilos().WaitAsync(ClientTimeout, cancellationToken);
            return active > 0 ? HealthCheckResult.Healthy("cluster reachable") : HealthCheckResult.Unhealthy("no active silo in the cluster");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("the cluster did not answer");
        }
    }
}

/// <summary>
/// Whether the configured storage answers: one table listing, without retries, bounded by
/// <c>Registry:StorageTimeoutSeconds</c>. Embedded (in-memory) registries have no storage to lose.
/// </summary>
internal sealed class StorageReadiness(RegistrySettings settings) : IHealthCheck
{
    private readonly TableServiceClient? _tables = settings.IsDurable ? Client(settings) : null;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (_tables is null)
        {
            return HealthCheckResult.Healthy("embedded (in memory)");
        }
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(settings.StorageTimeout);
        try
        {
            await foreach (var _ in _tables.QueryAsync(filter: "TableName eq 'readiness'", maxPerPage: 1, cancellationToken: bounded.Token).AsPages())
            {
                break;
            }
            return HealthCheckResult.Healthy("storage reachable");
        }
        catch (RequestFailedException e) when (e.Status is 401 or 403)
        {
            return HealthCheckResult.Unhealthy($"storage refused the registry's credentials (HTTP {e.Status})");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"storage did not answer within {settings.StorageTimeout.TotalSeconds:0.#} s");
        }
        catch (Exception e) when (e is RequestFailedException or AggregateException or HttpRequestException or IOException)
        {
            // The exception's text names the account and its URL: the probe is anonymous, so only the kind is said.
            return HealthCheckResult.Unhealthy(e is RequestFailedException { Status: > 0 } failed
                ? $"storage answered HTTP {failed.Status}"
                : "storage is not reachable");
        }
    }

    private static TableServiceClient Client(RegistrySettings settings)
    {
        var options = new TableClientOptions();
        // A probe answers now: its caller (an orchestrator) asks again on its own schedule.
        options.Retry.MaxRetries = 0;
        options.Retry.NetworkTimeout = settings.StorageTimeout;
        return new TableServiceClient(settings.StorageConnectionString, options);
    }
}
