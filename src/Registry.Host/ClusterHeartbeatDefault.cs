using Azure;
using Azure.Data.Tables;
using Registry.Abstractions;
using Registry.Grains;
using Registry.Grains.Heartbeats;

namespace Registry.Host;

/// <summary>
/// A durable cluster's registry-wide heartbeat default, kept in its storage (one entity of table
/// <c>{prefix}Settings</c>) rather than in each silo's configuration. It was each silo's own: a review (2026-12-07)
/// restarted one of two silos without <c>Registry:Heartbeat</c>, and every device whose grain activated there answered
/// its monitor partition "not monitored", so its outage ended without an alert and it was never watched again until its
/// next heartbeat. Now, before the silo joins its cluster (so no device grain activates here without it):
/// <list type="bullet">
/// <item>on storage that holds none, the silo stores its configured default (off when it sets none);</item>
/// <item>a silo that sets no <c>Registry:Heartbeat</c> takes the stored one;</item>
/// <item>a silo that sets one (an interval, or <c>IntervalSeconds=0</c> for off) makes it the cluster's: the last start
/// that sets it wins, as an operator changing the default and restarting the silos expects; the running silos take it
/// within <see cref="RegistrySettings.AccessPolicyRefreshSeconds"/>.</item>
/// </list>
/// Memory mode has one process and no shared storage: its configuration is the default.
/// </summary>
internal sealed partial class ClusterHeartbeatDefault(
    TableClient table,
    HeartbeatSettings configured,
    HeartbeatMonitorOptions options,
    RegistrySettings settings,
    TimeProvider clock,
    ILogger<ClusterHeartbeatDefault> logger,
    int stage,
    Func<HeartbeatPolicy?, Task>? changed = null,
    TimeSpan? firstRetryPause = null) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    /// <summary>
    /// Tells every heartbeat monitor partition of a new default (<see cref="IHeartbeatMonitorGrain.DefaultChanged"/>), so a
    /// lowered default is judged at once, not at each device's old deadline (hostile review, 2026-12-07: up to the old
    /// interval plus grace late, a day at most).
    /// </summary>
    public static Func<HeartbeatPolicy?, Task> TellPartitions(IGrainFactory grains, int partitions) =>
        policy => Task.WhenAll(Enumerable.Range(0, partitions).Select(p => grains.GetGrain<IHeartbeatMonitorGrain>(p).DefaultChanged(policy)));

    /// <summary>The entity's keys: one row per registry.</summary>
    public const string PartitionKey = "registry";

    public const string RowKey = "heartbeatDefault";

    private const string IntervalColumn = "IntervalSeconds";
    private const string GraceColumn = "GraceSeconds";

    private readonly CancellationTokenSource _stopping = new();
    private Task _refresh = Task.CompletedTask;
    private bool _untold;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ClusterHeartbeatDefault), stage, StartAsync, StopAsync);

    /// <summary>Settles the cluster's default with this silo's setting and puts it in force here; then follows it.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await StartRetry.Run(async () =>
        {
            await table.CreateIfNotExistsAsync(cancellationToken).WaitAsync(settings.StorageTimeout, cancellationToken);
            return 0;
        }, Retried, firstRetryPause, cancellationToken);
        var policy = await StartRetry.Run(() => Settle(cancellationToken).WaitAsync(settings.StorageTimeout, cancellationToken), Retried,
            firstRetryPause, cancellationToken);
        options.DefaultPolicy = policy;
        _refresh = RefreshAsync(_stopping.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _refresh.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose() => _stopping.Dispose();

    private void Retried(int attempt, int attempts, string reason) => LogStartRetried(logger, attempt, attempts, reason);

    /// <summary>The default in force once this silo's setting and the stored one are reconciled (see the class).</summary>
    private async Task<HeartbeatPolicy?> Settle(CancellationToken cancellationToken)
    {
        var wanted = configured.DefaultPolicy;
        while (true)
        {
            var row = await table.GetEntityIfExistsAsync<TableEntity>(PartitionKey, RowKey, cancellationToken: cancellationToken);
            if (!row.HasValue)
            {
                try
                {
                    await table.AddEntityAsync(Entity(wanted), cancellationToken);
                    LogStored(logger, Describe(wanted), table.Name);
                    return wanted;
                }
                catch (RequestFailedException e) when (e.Status == 409)
                {
                    continue; // another silo's first start stored it first: reconcile with that
                }
            }
            var stored = Read(row.Value!);
            if (!configured.IsSet)
            {
                LogTaken(logger, Describe(stored), table.Name);
                return stored;
            }
            if (stored == wanted)
            {
                LogAgreed(logger, Describe(stored), table.Name);
                return stored;
            }
            try
            {
                await table.UpdateEntityAsync(Entity(wanted), row.Value!.ETag, TableUpdateMode.Replace, cancellationToken);
                LogReplaced(logger, Describe(wanted), Describe(stored));
                return wanted;
            }
            catch (RequestFailedException e) when (e.Status == 412)
            {
                // Another start changed it meanwhile: read it again; this silo's setting still replaces it.
            }
        }
    }

    private async Task RefreshAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(settings.AccessPolicyRefreshInterval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    var row = await table.GetEntityIfExistsAsync<TableEntity>(PartitionKey, RowKey, cancellationToken: stopping)
                        .WaitAsync(settings.StorageTimeout, stopping);
                    // A row deleted by hand leaves the default held; the next start that sets one stores it again.
                    var stored = row.HasValue ? Read(row.Value!) : options.DefaultPolicy;
                    if (stored != options.DefaultPolicy)
                    {
                        options.DefaultPolicy = stored;
                        LogChanged(logger, Describe(stored));
                        _untold = true;
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The default held stays in force: a storage blip must not switch monitoring off.
                    LogRefreshFailed(logger, Describe(options.DefaultPolicy), e.Message);
                }
                if (_untold && changed is not null)
                {
                    try
                    {
                        await changed(options.DefaultPolicy).WaitAsync(settings.ResponseTimeout, stopping);
                        _untold = false;
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        // Told again at the next read; meanwhile each partition judges the new default at its devices' next question.
                        LogTellFailed(logger, e.GetType().Name, e.Message.Split('\n', 2)[0].Trim());
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private static TableEntity Entity(HeartbeatPolicy? policy) => new(PartitionKey, RowKey)
    {
        [IntervalColumn] = policy?.IntervalSeconds ?? 0,
        [GraceColumn] = policy?.GraceSeconds ?? 0,
    };

    /// <summary>The stored default: an interval of 0 (or a row no policy can come from, edited by hand) is off.</summary>
    private static HeartbeatPolicy? Read(TableEntity entity)
    {
        var policy = new HeartbeatPolicy(entity.GetInt32(IntervalColumn) ?? 0, entity.GetInt32(GraceColumn) ?? 0);
        return policy.IntervalSeconds == 0 || policy.Problem() is not null ? null : policy;
    }

    /// <summary>As the log says it: "60 s interval + 30 s grace", or "off".</summary>
    public static string Describe(HeartbeatPolicy? policy) =>
        policy is null ? "off" : $"{policy.IntervalSeconds} s interval + {policy.GraceSeconds} s grace";

    [LoggerMessage(EventId = 4026, Level = LogLevel.Information, Message = "Stored the registry's heartbeat default ({Policy}) in the cluster's storage (table {Table}): every silo of the cluster uses it")]
    private static partial void LogStored(ILogger logger, string policy, string table);

    [LoggerMessage(EventId = 4027, Level = LogLevel.Information, Message = "Registry:Heartbeat is not set here: the cluster's heartbeat default ({Policy}, table {Table}) is in force")]
    private static partial void LogTaken(ILogger logger, string policy, string table);

    [LoggerMessage(EventId = 4028, Level = LogLevel.Warning, Message = "Registry:Heartbeat here ({Policy}) replaces the cluster's heartbeat default ({Previous}): the running silos take it at their next read of it (every Registry:AccessPolicyRefreshSeconds, theirs)")]
    private static partial void LogReplaced(ILogger logger, string policy, string previous);

    [LoggerMessage(EventId = 4034, Level = LogLevel.Information, Message = "The cluster's heartbeat default ({Policy}, table {Table}) is in force; Registry:Heartbeat here agrees with it")]
    private static partial void LogAgreed(ILogger logger, string policy, string table);

    [LoggerMessage(EventId = 4029, Level = LogLevel.Information, Message = "The cluster's heartbeat default changed to {Policy} (another silo's start set it): in force here now")]
    private static partial void LogChanged(ILogger logger, string policy);

    [LoggerMessage(EventId = 4030, Level = LogLevel.Warning, Message = "Could not read the cluster's heartbeat default; the one held ({Policy}) stays in force: {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, string policy, string reason);

    [LoggerMessage(EventId = 4033, Level = LogLevel.Warning, Message = "Could not tell every heartbeat monitor partition of the new default; told again at the next read ({Type}: {Reason})")]
    private static partial void LogTellFailed(ILogger logger, string type, string reason);

    [LoggerMessage(EventId = 4031, Level = LogLevel.Warning, Message = "Storage was slow reading the cluster's heartbeat default while the silo started (try {Attempt} of {Attempts}); asking again: {Reason}")]
    private static partial void LogStartRetried(ILogger logger, int attempt, int attempts, string reason);
}
