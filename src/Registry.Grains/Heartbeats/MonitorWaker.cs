using System.Collections.Concurrent;
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
    ILogger<MonitorWaker> logger) : SiloLoop(ServiceLifecycleStage.Active)
{
    /// <summary>Partitions woken at once.</summary>
    public const int Concurrency = 16;

    /// <summary>The pauses after a round's failed wake, before it goes on with the partitions left.</summary>
    private static readonly TimeSpan[] Retries = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)];

    /// <summary>How many times a round tries the partitions it has not woken: with storage down, this many failed wakes in all.</summary>
    public static int Tries => Retries.Length + 1;

    private int _rounds;

    /// <summary>How many times this silo has woken every partition (once it started, then once per silo declared dead).</summary>
    public int Rounds => Volatile.Read(ref _rounds);

    protected override async Task Run(CancellationToken ct)
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
                    await WakeAll($"silo {string.Join(", ", lost)} left the cluster (stopped, or declared dead)", ct);
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

    /// <summary>
    /// Wakes every partition; returns the number that could not be woken. Each try wakes one partition alone, then the
    /// others 16 at a time; it stops at its first failed wake and, after a pause (<see cref="Retries"/>), the next try goes
    /// on with the partitions not woken yet: when storage is down every activation
    /// fails, and each partition tried four times on its own made 4,096 failed activations of 1,024 partitions, each
    /// logged by Orleans as an error with its stack (hostile review, 2026-12-04, with storage refusing connections).
    /// </summary>
    public async Task<int> WakeAll(string reason, CancellationToken ct)
    {
        // The partitions' loads go behind any device request's own (BackgroundLoads): nobody waits for a wake.
        BackgroundLoads.Mark();
        var left = Enumerable.Range(0, index.Value.Partitions).ToList();
        for (var attempt = 0; left.Count > 0; attempt++)
        {
            var woken = new ConcurrentBag<int>();
            Exception? failure = null;
            // One partition first, alone: with storage down that is the try's one failed activation, not a round's worth.
            try
            {
                await grains.GetGrain<IHeartbeatMonitorGrain>(left[0]).Wake();
                woken.Add(left[0]);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failure = e;
            }
            using (var stop = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                try
                {
                    await Parallel.ForEachAsync(failure is null ? left.Skip(1) : [], new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = stop.Token },
                        async (partition, token) =>
                        {
                            try
                            {
                                await grains.GetGrain<IHeartbeatMonitorGrain>(partition).Wake();
                                woken.Add(partition);
                            }
                            catch (Exception e) when (e is not OperationCanceledException)
                            {
                                Interlocked.CompareExchange(ref failure, e, null);
                                await stop.CancelAsync();
                            }
                        });
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    // Stopped by a failed wake: the partitions not woken are tried again after the pause.
                }
            }
            left = left.Except(woken).ToList();
            if (failure is null || left.Count == 0)
            {
                break;
            }
            LogWakeFailed(logger, failure, left.Count);
            if (attempt == Retries.Length)
            {
                break;
            }
            await Task.Delay(Retries[attempt], ct);
        }
        Interlocked.Increment(ref _rounds);
        if (left.Count > 0)
        {
            LogNotWoken(logger, left.Count, index.Value.Partitions, reason);
        }
        else
        {
            LogWoken(logger, index.Value.Partitions, reason);
        }
        return left.Count;
    }

    [LoggerMessage(EventId = 2162, Level = LogLevel.Information, Message = "Woke the {Partitions} heartbeat monitor partitions: {Reason}")]
    private static partial void LogWoken(ILogger logger, int partitions, string reason);

    [LoggerMessage(EventId = 2163, Level = LogLevel.Warning, Message = "{Failed} of {Partitions} heartbeat monitor partitions could not be woken ({Reason}); their reminders bring them back within a minute")]
    private static partial void LogNotWoken(ILogger logger, int failed, int partitions, string reason);

    [LoggerMessage(EventId = 2164, Level = LogLevel.Debug, Message = "A heartbeat monitor partition could not be woken; {Left} are left for the next try")]
    private static partial void LogWakeFailed(ILogger logger, Exception exception, int left);

    [LoggerMessage(EventId = 2165, Level = LogLevel.Warning, Message = "This silo stopped waking heartbeat monitor partitions on membership changes; their reminders bring them back")]
    private static partial void LogStopped(ILogger logger, Exception exception);
}
