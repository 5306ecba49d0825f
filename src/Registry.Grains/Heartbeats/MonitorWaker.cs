using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Registry.Grains.Storage;

namespace Registry.Grains.Heartbeats;

/// <summary>
/// Brings the heartbeat monitor partitions back as soon as one may have been lost, instead of at its reminder's next tick
/// (up to a minute later: Orleans' shortest reminder period). Each silo wakes every partition when it becomes active (a
/// restart of the cluster) and whenever membership declares another silo dead (killed, or stopped with SIGTERM). Waking a
/// partition that is active is a call that does nothing; one that was lost comes back, loads the devices it watches and
/// gives each a full interval plus grace from then, so a silent device is announced a deadline after the failure rather
/// than up to a minute later. A partition that watches nothing goes away again. A wake that fails (the cluster is still
/// declaring silos dead, storage is away) is tried again a few times, then left to the reminder, which stays the durable
/// safety net.
/// </summary>
public sealed partial class MonitorWaker(
    IClusterMembershipService membership,
    IGrainFactory grains,
    IOptions<RegistryIndexOptions> index,
    ILogger<MonitorWaker> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    /// <summary>Partitions woken at once.</summary>
    private const int Concurrency = 16;

    /// <summary>The waits between the tries of one partition's wake.</summary>
    private static readonly TimeSpan[] Retries = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)];

    private readonly CancellationTokenSource _stopping = new();
    private Task _running = Task.CompletedTask;
    private int _rounds;

    /// <summary>How many times this silo has woken every partition (once it started, then once per silo declared dead).</summary>
    public int Rounds => Volatile.Read(ref _rounds);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(MonitorWaker), ServiceLifecycleStage.Active, Start, Stop);

    private Task Start(CancellationToken cancellationToken)
    {
        _running = Task.Run(() => Run(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task Stop(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _running.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose() => _stopping.Dispose();

    private async Task Run(CancellationToken ct)
    {
        HashSet<SiloAddress>? dead = null;
        try
        {
            // The first snapshot is the current one: this silo has just become active.
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(ct))
            {
                var nowDead = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Dead).Select(m => m.SiloAddress).ToHashSet();
                var lost = dead is null ? null : nowDead.Where(s => !dead.Contains(s)).ToList();
                dead = nowDead;
                if (lost is null)
                {
                    await WakeAll("this silo became active", ct);
                }
                else if (lost.Count > 0)
                {
                    await WakeAll($"silo {string.Join(", ", lost)} was declared dead", ct);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // Membership updates end only as the silo stops; anything else leaves the partitions to their reminders.
            LogStopped(logger, e);
        }
    }

    /// <summary>Wakes every partition; returns the number that could not be woken.</summary>
    public async Task<int> WakeAll(string reason, CancellationToken ct)
    {
        // The partitions' loads go behind any device request's own (BackgroundLoads): nobody waits for a wake.
        BackgroundLoads.Mark();
        var failed = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, index.Value.Partitions), new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = ct },
            async (partition, token) =>
            {
                if (!await Wake(partition, token))
                {
                    Interlocked.Increment(ref failed);
                }
            });
        Interlocked.Increment(ref _rounds);
        if (failed > 0)
        {
            LogNotWoken(logger, failed, index.Value.Partitions, reason);
        }
        else
        {
            LogWoken(logger, index.Value.Partitions, reason);
        }
        return failed;
    }

    private async Task<bool> Wake(int partition, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await grains.GetGrain<IHeartbeatMonitorGrain>(partition).Wake();
                return true;
            }
            catch (Exception) when (attempt < Retries.Length && !ct.IsCancellationRequested)
            {
                await Task.Delay(Retries[attempt], ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogWakeFailed(logger, e, partition);
                return false;
            }
        }
    }

    [LoggerMessage(EventId = 2162, Level = LogLevel.Information, Message = "Woke the {Partitions} heartbeat monitor partitions: {Reason}")]
    private static partial void LogWoken(ILogger logger, int partitions, string reason);

    [LoggerMessage(EventId = 2163, Level = LogLevel.Warning, Message = "{Failed} of {Partitions} heartbeat monitor partitions could not be woken ({Reason}); their reminders bring them back within a minute")]
    private static partial void LogNotWoken(ILogger logger, int failed, int partitions, string reason);

    [LoggerMessage(EventId = 2164, Level = LogLevel.Debug, Message = "Heartbeat monitor partition {Partition} could not be woken")]
    private static partial void LogWakeFailed(ILogger logger, Exception exception, int partition);

    [LoggerMessage(EventId = 2165, Level = LogLevel.Warning, Message = "This silo stopped waking heartbeat monitor partitions on membership changes; their reminders bring them back")]
    private static partial void LogStopped(ILogger logger, Exception exception);
}
