using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Registry.Grains;

namespace Registry.Host;

/// <summary>
/// Refuses a durable silo's start while a silo of another cluster (another <c>Registry:ClusterId</c>) is alive in the
/// registry's membership table: one storage serves one cluster at a time. Two clusters on one storage each activated
/// their own copy of a device and of each index partition; a review (2026-12-07) saw creates answered 404 on the other
/// cluster and 503 ("moved to another activation") on the first, which went on answering that 503 for over 7 minutes
/// after the second was stopped. Checked before this silo writes its own membership row, so a refused start leaves no
/// trace in the cluster's storage and disturbs nothing of the cluster that runs. A silo is alive here when its row says
/// it is joining, active or stopping and it gave a sign of life within Orleans' own staleness bound
/// (<see cref="ClusterMembershipOptions.IAmAliveTablePublishTimeout"/> times <see cref="ClusterMembershipOptions.NumMissedTableIAmAliveLimit"/>): a cluster stopped in order has no such row, one
/// killed has none once that bound has passed. Two clusters started in the same seconds can both pass: a start check,
/// not a lease.
/// </summary>
internal sealed partial class OtherClusterCheck(
    TableClient membership,
    RegistrySettings settings,
    IOptions<ClusterMembershipOptions> options,
    ILogger<OtherClusterCheck> logger,
    int stage) : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly string[] LiveStatuses = ["Joining", "Active", "ShuttingDown", "Stopping"];

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(OtherClusterCheck), stage, CheckAsync);

    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        var other = await StartRetry.Run(() => FindOther(cancellationToken).WaitAsync(settings.StorageTimeout, cancellationToken),
            (attempt, attempts, reason) => LogStartRetried(logger, attempt, attempts, reason), null, cancellationToken);
        if (other is { } silo)
        {
            throw new RegistryStartupException(
                $"Another cluster runs on this storage: Registry:ClusterId={silo.ClusterId} has a live silo ({silo.HostName}, {silo.Endpoint}, " +
                $"status {silo.Status}, last alive {silo.Since.TotalSeconds:0} s ago; table {membership.Name}), and this silo's is " +
                $"Registry:ClusterId={settings.ClusterId}. One storage serves one cluster at a time (two activate their own copies of each " +
                $"device): join that cluster with its ClusterId, or give this registry its own Registry:StoragePrefix. A silo killed without " +
                $"stopping counts until {AliveWindow.TotalSeconds:0} s after its last sign of life. Nothing was started.");
        }
    }

    private async Task<OtherSilo?> FindOther(CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var window = AliveWindow;
        try
        {
            await foreach (var row in membership.QueryAsync<TableEntity>(e => e.PartitionKey != settings.ClusterId,
                select: ["PartitionKey", "RowKey", "Status", "HostName", "IAmAliveTime", "Timestamp"], cancellationToken: cancellationToken))
            {
                if (row.GetString("Status") is not { } status || !LiveStatuses.Contains(status, StringComparer.Ordinal))
                {
                    continue; // the version row, or a silo that is dead
                }
                var lastAlive = Latest(row.Timestamp, ParseAlive(row.GetString("IAmAliveTime")));
                if (lastAlive is { } seen && now - seen < window)
                {
                    return new OtherSilo(row.PartitionKey, row.GetString("HostName") ?? "?", Endpoint(row.RowKey), status, now - seen);
                }
            }
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // No membership table yet: the first start on this storage.
        }
        return null;
    }

    /// <summary>Orleans' own bound for a stale row: its alive-publish period times the misses it allows.</summary>
    private TimeSpan AliveWindow => options.Value.IAmAliveTablePublishTimeout * Math.Max(1, options.Value.NumMissedTableIAmAliveLimit);

    /// <summary>Orleans writes it as "yyyy-MM-dd HH:mm:ss.fff GMT".</summary>
    private static DateTimeOffset? ParseAlive(string? text) =>
        text is not null && DateTimeOffset.TryParseExact(text.Replace(" GMT", "", StringComparison.Ordinal), "yyyy-MM-dd HH:mm:ss.fff",
            System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : null;

    private static DateTimeOffset? Latest(DateTimeOffset? a, DateTimeOffset? b) => a > b ? a : b ?? a;

    /// <summary>The row key is "address-port-generation": the silo's endpoint without its generation.</summary>
    private static string Endpoint(string rowKey) =>
        rowKey.LastIndexOf('-') is var last and > 0 && rowKey.IndexOf('-') is var first && first < last
            ? $"{rowKey[..first]}:{rowKey[(first + 1)..last]}"
            : rowKey;

    private sealed record OtherSilo(string ClusterId, string HostName, string Endpoint, string Status, TimeSpan Since);

    [LoggerMessage(EventId = 4032, Level = LogLevel.Warning, Message = "Storage was slow reading the cluster's membership table while the silo started (try {Attempt} of {Attempts}); asking again: {Reason}")]
    private static partial void LogStartRetried(ILogger logger, int attempt, int attempts, string reason);
}
