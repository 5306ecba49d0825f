using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Orleans.Storage;
using Registry.Grains;
using Registry.Grains.Devices;
using Registry.Grains.Events;

namespace Registry.Host;

/// <summary>
/// Sends the lifecycle notifications a gone silo left in the outbox (<see cref="TableEventOutbox"/>): those it raised
/// and the event stream had not taken when it was killed or stopped. Every <see cref="RegistryEventOptions.OutboxSweepInterval"/>
/// the silo with the lowest address among the active ones reads the outbox and, for each silo the cluster counts dead
/// (or no longer lists, and whose rows are older than <see cref="RegistryEventOptions.OutboxMinimumAge"/>, so a silo that
/// has just joined is not mistaken for a gone one), publishes its rows in the order they were stored and removes them.
/// Rows of live silos are theirs to send. A publish the stream refuses ends that silo's rows for this sweep; the next
/// goes on from there. Two silos that both think themselves the lowest while membership changes may both send a row:
/// the same <c>correlation-id</c> twice, as any retry (at least once).
/// <para>
/// Rows to verify (<see cref="OutboxChecks"/>: the notification of a create or delete whose call answered a storage
/// timeout, which may have landed later) are the sweeper's whatever their silo: once <see cref="RegistryEventOptions.OutboxVerifyAge"/>
/// old, each is sent if the device's stored generation shows its write landed, and removed either way. A gone silo's
/// intent rows (<see cref="OutboxChecks.Intent"/>: stored before each routed create's or delete's write, removed once
/// its event was taken) are the writes it may have made before it died mid-call: sent when the write landed, removed
/// either way.
/// </para>
/// </summary>
public sealed partial class OutboxSweeper(
    TableEventOutbox outbox,
    IStoredGeneration stored,
    IRegistryEventSink sink,
    IClusterMembershipService membership,
    ILocalSiloDetails silo,
    IOptions<RegistryEventOptions> options,
    [FromKeyedServices(RegistryClock.Key)] TimeProvider clock,
    ILogger<OutboxSweeper> logger) : SiloLoop(ServiceLifecycleStage.Active)
{
    /// <summary>Rows of events this silo's stream took while it stopped go now, not at the next silo's sweep as duplicates.</summary>
    protected override async Task Stopped(CancellationToken cancellationToken) =>
        await outbox.Removing.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

    protected override async Task Run(CancellationToken ct)
    {
        var failing = false;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.Value.OutboxSweepInterval, clock, ct);
                await SweepOnce(ct);
                failing = false;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Storage away: said once, not at every sweep; the rows wait in storage meanwhile.
                if (!failing)
                {
                    LogSweepFailed(logger, e);
                }
                failing = true;
            }
        }
    }

    /// <summary>
    /// One sweep: when this silo is the sweeper, sends and removes the rows of every gone silo; the number sent.
    /// </summary>
    public async Task<int> SweepOnce(CancellationToken ct)
    {
        var snapshot = membership.CurrentSnapshot;
        var active = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToList();
        if (active.Count == 0 || !active.Min(Lowest.Instance)!.Equals(silo.SiloAddress))
        {
            return 0;
        }
        var now = clock.GetUtcNow();
        var sent = 0;
        foreach (var owner in await outbox.Read(ct))
        {
            var status = owner.Owner == outbox.Owner ? SiloStatus.Active : StatusOf(snapshot, owner.Owner);
            bool Gone(OutboxRow row) => GoneSilo(status, row);
            var rows = owner.Rows.Where(r => r.Check switch
                {
                    // A plain row is its silo's while that silo lives.
                    null => Gone(r),
                    // A write's intent row likewise (swept, it is verified), unless it outlived every way its silo had to
                    // remove it (its call ended, its event's retries too): an insert that timed out and landed after its
                    // removal (a review found 15, 2026-12-07).
                    var check when OutboxChecks.IsIntent(check) => Gone(r) || Older(r, options.Value.PublishRetryWindow + options.Value.OutboxVerifyAge),
                    // A row to verify waits until a write that timed out can no longer land (whatever its silo).
                    _ => Older(r, options.Value.OutboxVerifyAge),
                }).ToList();
            if (rows.Count > 0)
            {
                sent += await Send(owner.Owner, rows, ct);
            }
        }
        return sent;

        bool Older(OutboxRow row, TimeSpan age) => row.StoredAt is not { } at || now - at >= age;

        // A silo no snapshot lists may be one that joined a moment ago: only rows old enough to be a gone silo's.
        bool GoneSilo(SiloStatus status, OutboxRow row) =>
            status == SiloStatus.Dead || status == SiloStatus.None && Older(row, options.Value.OutboxMinimumAge);
    }

    private async Task<int> Send(string owner, IReadOnlyList<OutboxRow> rows, CancellationToken ct)
    {
        var done = new List<string>(TableEventOutbox.MaxTransaction);
        var sent = 0;
        var damaged = 0;
        var notLanded = 0;
        try
        {
            foreach (var row in rows)
            {
                ct.ThrowIfCancellationRequested();
                if (TableEventOutbox.Parse(row) is { } registryEvent)
                {
                    try
                    {
                        if (row.Check is null || OutboxChecks.Landed(row.Check, await stored.Of(registryEvent.DeviceId)))
                        {
                            await sink.Publish(registryEvent);
                            sent++;
                        }
                        else
                        {
                            notLanded++;
                        }
                    }
                    catch (Exception e)
                    {
                        // One line, without the stack: it comes back at every sweep while the stream or storage is away.
                        LogRefused(logger, owner, rows.Count - sent - damaged - notLanded, e.GetType().Name, FirstLine(e.Message));
                        break;
                    }
                }
                else
                {
                    damaged++;
                }
                done.Add(row.RowKey);
                if (done.Count == TableEventOutbox.MaxTransaction)
                {
                    await outbox.Delete(owner, done);
                    done.Clear();
                }
            }
        }
        finally
        {
            try
            {
                if (done.Count > 0)
                {
                    await outbox.Delete(owner, done);
                }
            }
            finally
            {
                // Said even when a removal failed and the sweep ends in its exception: those rows were sent (and will be
                // again, at the next sweep); a review counted 791 rows sent with no line saying so (2026-12-07).
                if (damaged > 0)
                {
                    LogDamaged(logger, damaged, owner);
                }
                if (sent > 0)
                {
                    LogSent(logger, sent, owner);
                }
                if (notLanded > 0)
                {
                    LogNotLanded(logger, notLanded, owner);
                }
            }
        }
        return sent;
    }

    /// <summary>The status of the silo a row's PartitionKey names; a key that names no silo counts as gone.</summary>
    private static SiloStatus StatusOf(ClusterMembershipSnapshot snapshot, string owner)
    {
        try
        {
            return snapshot.GetSiloStatus(SiloAddress.FromParsableString(owner));
        }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException)
        {
            return SiloStatus.Dead;
        }
    }

    private sealed class Lowest : IComparer<SiloAddress>
    {
        public static readonly Lowest Instance = new();

        public int Compare(SiloAddress? x, SiloAddress? y) =>
            string.CompareOrdinal(x?.ToParsableString(), y?.ToParsableString());
    }

    [LoggerMessage(EventId = 2206, Level = LogLevel.Information, Message = "Sent {Count} lifecycle notifications that silo {Owner} left in the outbox (those of a gone silo, or of writes that timed out and landed)")]
    private static partial void LogSent(ILogger logger, int count, string owner);

    [LoggerMessage(EventId = 2210, Level = LogLevel.Information, Message = "Removed {Count} outbox rows of silo {Owner} whose write did not land (it timed out, or its silo died before it): no notification")]
    private static partial void LogNotLanded(ILogger logger, int count, string owner);

    [LoggerMessage(EventId = 2207, Level = LogLevel.Warning, Message = "A notification silo {Owner} left in the outbox could not be sent ({Error}: {Reason}); its {Count} rows left wait for the next sweep")]
    private static partial void LogRefused(ILogger logger, string owner, int count, string error, string reason);

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    [LoggerMessage(EventId = 2208, Level = LogLevel.Warning, Message = "Removed {Count} outbox rows of silo {Owner} that hold no notification")]
    private static partial void LogDamaged(ILogger logger, int count, string owner);

    [LoggerMessage(EventId = 2209, Level = LogLevel.Warning, Message = "The outbox could not be swept (is storage reachable?); it is tried again at each sweep")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}

/// <summary>The generation a device is stored with (null: none): what a row to verify is checked against.</summary>
public interface IStoredGeneration
{
    Task<string?> Of(string deviceId);
}

/// <summary>
/// Read from the device storage itself, not through the device's grain: an activation made between the failed write and
/// the check (a GET) read storage before the write landed and would answer from that (found by its test, 2026-12-07).
/// </summary>
public sealed class StorageStoredGeneration(IGrainFactory grains, [FromKeyedServices(StorageNames.Registry)] IGrainStorage storage) : IStoredGeneration
{
    public async Task<string?> Of(string deviceId) =>
        (await StoredDevices.ReadAsync(storage, grains.GetGrain<IDeviceGrain>(deviceId).GetGrainId()))?.GenerationId;
}
