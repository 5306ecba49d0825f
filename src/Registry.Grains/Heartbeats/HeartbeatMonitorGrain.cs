using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;
using Registry.Grains.Events;

namespace Registry.Grains.Heartbeats;

/// <summary>
/// One partition of heartbeat monitoring: the devices of one <see cref="DevicePartitioner"/> partition that are watched,
/// each with its next deadline (<see cref="DeadlineQueue"/>). One grain timer, armed for the earliest deadline, serves
/// deadlines finer than a minute; one reminder per partition (1-minute period) is the durable safety net that brings the
/// partition back on another silo after any failure. Heartbeats never reach it: when a deadline passes it asks the device
/// (<see cref="IMonitoredDevice.Probe"/>), one call per device per interval, and devices call it only on transitions.
/// <para>
/// Stored (<see cref="IHeartbeatStore"/>): which devices are watched, their policy, and an outage's start, written when
/// they change (group-committed) and before an alert is published, so an outage is announced once even if this partition
/// moves. Deadlines are not stored: a partition that activates gives every device a full interval plus grace from then, as
/// a device grain does from its own activation, so a failover never raises a false alert and a silent device whose silo
/// died is still found.
/// </para>
/// </summary>
[Reentrant, KeepAlive]
public sealed partial class HeartbeatMonitorGrain(
    IHeartbeatStore store,
    IRegistryEventSink sink,
    IOptions<HeartbeatMonitorOptions> options,
    [FromKeyedServices(RegistryClock.Key)] TimeProvider clock,
    IHostApplicationLifetime lifetime,
    ILogger<HeartbeatMonitorGrain> logger) : Grain, IHeartbeatMonitorGrain, IRemindable
{
    public const string ReminderName = "heartbeat-monitor";

    /// <summary>Orleans' shortest reminder period.</summary>
    public static readonly TimeSpan ReminderPeriod = TimeSpan.FromMinutes(1);

    /// <summary>Device probes in flight at once: a burst of deadlines does not flood the cluster.</summary>
    private const int ProbeConcurrency = 64;

    /// <summary>Least delay before asking a device again whose clock says it is not due yet (clocks of two silos differ a little).</summary>
    private static readonly TimeSpan MinReschedule = TimeSpan.FromSeconds(1);

    private readonly DeadlineQueue _watched = new();
    private Dictionary<string, MonitoredDevice?> _unwritten = new(StringComparer.Ordinal);
    private Task _lastWrite = Task.CompletedTask;
    private Task? _pendingWrite;
    private Task _announcements = Task.CompletedTask;
    private Task _check = Task.CompletedTask;
    private Task _reminderSync = Task.CompletedTask;
    private IGrainReminder? _reminder;
    private IGrainTimer _timer = null!;
    private DateTime? _armedFor;

    private int Partition => (int)this.GetPrimaryKeyLong();

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    private bool Stopping => lifetime.ApplicationStopping.IsCancellationRequested;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _timer = this.RegisterGrainTimer(Check, new GrainTimerCreationOptions
        {
            DueTime = Timeout.InfiniteTimeSpan,
            Period = Timeout.InfiniteTimeSpan,
            KeepAlive = true,
            Interleave = true,
        });
        var loaded = await store.Load(Partition);
        var now = Now;
        var fallback = options.Value.DefaultPolicy?.Deadline;
        foreach (var device in loaded)
        {
            // A device in an outage is asked at once whether it still is monitored: its policy may have gone while the
            // partition was away (a registry default removed at a restart), and the outages list would name it until then.
            // Asking cannot raise an alert (the outage stands until a heartbeat newer than it). Every other device is asked
            // after its stored interval plus grace, or the registry default's if that is shorter: the default may have been
            // lowered while the partition was away, and the stored policy would let a silent device go unannounced for the
            // old, longer deadline. Its answer gives its policy and deadline from then on.
            var deadline = fallback is { } d && d < device.Policy.Deadline ? d : device.Policy.Deadline;
            _watched.Set(device.DeviceId, device.Policy, device.OutageSince is null ? now + deadline : now, device.OutageSince);
        }
        if (loaded.Count > 0)
        {
            LogLoaded(logger, Partition, loaded.Count);
            await SyncReminder();
        }
        ArmTimer();
    }

    public async Task Watch(string deviceId, HeartbeatPolicy policy, DateTime reference, DateTime? heartbeat)
    {
        policy.EnsureValid();
        var known = _watched.TryGet(deviceId, out var existing);
        var outage = known ? existing.OutageSince : null;
        var recovered = outage is not null && heartbeat is not null;
        var changed = !known || existing.Policy != policy || recovered;
        var watched = _watched.Set(deviceId, policy, reference + policy.Deadline, recovered ? null : outage);
        ArmTimer();
        if (_reminder is null)
        {
            // The first device, or a registration that failed before: the partition is not durable until it has its reminder.
            await SyncReminder();
        }
        if (recovered)
        {
            await Transition(watched, HeartbeatAlerts.Recovered(options.Value.HubName, deviceId, policy, outage!.Value, heartbeat!.Value, Now));
        }
        else if (changed)
        {
            Track(watched);
            await ScheduleWrite();
        }
    }

    public async Task Unwatch(string deviceId)
    {
        if (!_watched.Remove(deviceId))
        {
            return;
        }
        _unwritten[deviceId] = null;
        await ScheduleWrite();
        if (_watched.Count == 0)
        {
            await SyncReminder();
        }
    }

    public Task<DateTime?> OutageOf(string deviceId) =>
        Task.FromResult(_watched.TryGet(deviceId, out var watched) ? watched.OutageSince : null);

    public Task<(HeartbeatOutage[] Outages, bool HasMore)> Outages(string? afterDeviceId, int maxCount)
    {
        var outages = _watched.All
            .Where(w => w.OutageSince is not null && (afterDeviceId is null || string.CompareOrdinal(w.DeviceId, afterDeviceId) > 0))
            .OrderBy(w => w.DeviceId, StringComparer.Ordinal)
            .Select(w => new HeartbeatOutage(w.DeviceId, w.OutageSince!.Value))
            .Take(maxCount + 1)
            .ToArray();
        return Task.FromResult(outages.Length > maxCount ? (outages[..maxCount], true) : (outages, false));
    }

    public Task Wake()
    {
        if (_watched.Count == 0 && _reminder is null && _unwritten.Count == 0 && _pendingWrite is null)
        {
            DeactivateOnIdle();
        }
        return Task.CompletedTask;
    }

    public Task DefaultChanged(HeartbeatPolicy? policy)
    {
        var now = Now;
        var asked = 0;
        foreach (var watched in _watched.All)
        {
            if (watched.Policy == policy)
            {
                continue;
            }
            asked++;
            if (watched.Deadline == DateTime.MaxValue)
            {
                watched.AskAgain = true; // its check is in flight: asked again once it is rescheduled
            }
            else if (watched.Deadline > now)
            {
                _watched.Reschedule(watched, now);
            }
        }
        if (asked > 0)
        {
            LogDefaultChanged(logger, Partition, asked);
            ArmTimer();
        }
        return Task.CompletedTask;
    }

    public Task<bool> IsWatching(string deviceId) => Task.FromResult(_watched.TryGet(deviceId, out _));

    public Task<int> Count() => Task.FromResult(_watched.Count);

    public Task Check()
    {
        _check = CheckAfter(_check);
        return _check;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (_watched.Count == 0)
        {
            // A reminder left by a partition that emptied before it could unregister: nothing to guard any more.
            _reminder ??= await this.GetReminder(ReminderName);
            await SyncReminder();
            return;
        }
        await Check();
    }

    /// <summary>Checks run one after another, so a caller's check sees the effects of every earlier one.</summary>
    private async Task CheckAfter(Task previous)
    {
        try
        {
            await previous;
        }
        catch
        {
            // The earlier check's caller saw its failure.
        }
        _armedFor = null;
        if (Stopping)
        {
            // The silo is going: a probe now finds no silo to place the device on and only logs errors. Deadlines are not
            // stored, so whoever activates this partition next gives every device a full interval plus grace anyway.
            LogStopping(logger, Partition);
            return;
        }
        var now = Now;
        var due = _watched.TakeDue(now);
        for (var start = 0; start < due.Count; start += ProbeConcurrency)
        {
            await Task.WhenAll(due.Skip(start).Take(ProbeConcurrency).Select(w => CheckDevice(w, now)));
        }
        foreach (var watched in due)
        {
            if (watched.AskAgain)
            {
                watched.AskAgain = false;
                if (_watched.TryGet(watched.DeviceId, out var current) && ReferenceEquals(current, watched) && watched.Deadline != DateTime.MaxValue)
                {
                    _watched.Reschedule(watched, Now);
                }
            }
        }
        ArmTimer();
    }

    private async Task CheckDevice(Watched watched, DateTime now)
    {
        HeartbeatProbe probe;
        try
        {
            probe = await GrainFactory.GetGrain<IMonitoredDevice>(watched.DeviceId).Probe();
        }
        catch (Exception ex)
        {
            // Never an alert on a failure to ask: the device is asked again soon. A probe in flight as the silo stops is expected to fail.
            if (Stopping)
            {
                LogProbeFailedStopping(logger, ex, watched.DeviceId);
            }
            else
            {
                LogProbeFailed(logger, ex, watched.DeviceId);
            }
            if (IsTaken(watched))
            {
                _watched.Reschedule(watched, now + options.Value.RetryDelay);
            }
            return;
        }
        if (!IsTaken(watched))
        {
            return; // unwatched, or a transition from the device rescheduled it meanwhile: its news is newer than this answer
        }
        if (probe.Policy is null)
        {
            // Deleted, disabled or switched off: an outage in progress ends without an alert.
            _watched.Remove(watched.DeviceId);
            _unwritten[watched.DeviceId] = null;
            await ScheduleWrite();
            return;
        }
        var policyChanged = watched.Policy != probe.Policy;
        if (policyChanged)
        {
            watched.Policy = _watched.Share(probe.Policy);
        }
        var hub = options.Value.HubName;
        if (probe.Missed)
        {
            // Asked again each deadline while silent, so a recovery whose call was lost is still found.
            _watched.Reschedule(watched, now + watched.Policy.Deadline);
            if (watched.OutageSince is null)
            {
                watched.OutageSince = probe.DueAt;
                await Transition(watched, HeartbeatAlerts.Missed(hub, watched.DeviceId, watched.Policy, probe.LastHeartbeatTime, probe.DueAt, Now));
                return;
            }
        }
        else
        {
            _watched.Reschedule(watched, probe.DueAt > now ? probe.DueAt : now + MinReschedule);
            if (watched.OutageSince is { } since && probe.LastHeartbeatTime is { } heartbeat && heartbeat > since)
            {
                watched.OutageSince = null;
                await Transition(watched, HeartbeatAlerts.Recovered(hub, watched.DeviceId, watched.Policy, since, heartbeat, Now));
                return;
            }
            if (policyChanged && watched.OutageSince is { } standing && now < (probe.LastHeartbeatTime ?? standing) + watched.Policy.Deadline)
            {
                // The policy changed while this partition was away (a registry default raised at a restart) and the device's
                // silence, from its last heartbeat, does not bear the outage out under it: the outage ends quietly, as at a
                // policy put (DeviceMonitoring.Arm). No heartbeat came, so nothing recovered; one the new policy bears out
                // goes on, not announced twice.
                watched.OutageSince = null;
            }
        }
        if (policyChanged)
        {
            Track(watched);
            await ScheduleWrite();
        }
    }

    /// <summary>Whether <paramref name="watched"/> is still the current record and still waits for its check's reschedule.</summary>
    private bool IsTaken(Watched watched) =>
        _watched.TryGet(watched.DeviceId, out var current) && ReferenceEquals(current, watched) && watched.Deadline == DateTime.MaxValue;

    private static readonly KeyValuePair<string, object?> MissedTag = new(RegistryMetrics.Tags.Alert, "missed");
    private static readonly KeyValuePair<string, object?> RecoveredTag = new(RegistryMetrics.Tags.Alert, "recovered");

    /// <summary>
    /// Stores the device's new outage state, then publishes <paramref name="alert"/>: stored first, so a partition that moves
    /// after announcing never announces the same outage again. Alerts leave in the order of their transitions.
    /// </summary>
    private Task Transition(Watched watched, RegistryEvent alert)
    {
        Track(watched);
        var write = ScheduleWrite();
        _announcements = Announce(_announcements, write, alert);
        return _announcements;
    }

    private async Task Announce(Task previous, Task write, RegistryEvent alert)
    {
        await previous;
        try
        {
            await write;
        }
        catch (Exception ex)
        {
            // The change stays among the unwritten ones and goes with the next write; the outage is real either way.
            LogWriteFailed(logger, ex, Partition);
        }
        LogAlert(logger, alert.OpType, alert.DeviceId);
        RegistryMetrics.HeartbeatAlerts.Add(1, alert.OpType == RegistryEventTypes.HeartbeatMissed ? MissedTag : RecoveredTag);
        if (!sink.IsRouted(RegistryEventSources.HeartbeatAlerts))
        {
            return;
        }
        try
        {
            await sink.Publish(alert);
        }
        catch (Exception ex)
        {
            LogPublishFailed(logger, ex, alert.OpType, alert.DeviceId);
        }
    }

    /// <summary>Arms the one timer for the earliest deadline, unless it is already armed for an earlier one.</summary>
    private void ArmTimer()
    {
        var earliest = _watched.Earliest();
        if (earliest is null)
        {
            _armedFor = null;
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }
        if (_armedFor is { } armed && armed <= earliest)
        {
            return;
        }
        _armedFor = earliest;
        var due = earliest.Value - Now;
        _timer.Change(due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }

    /// <summary>A reminder while anything is watched, none otherwise; changes run one after another and each reads the count afresh.</summary>
    private Task SyncReminder()
    {
        _reminderSync = SyncReminderAfter(_reminderSync);
        return _reminderSync;
    }

    private async Task SyncReminderAfter(Task previous)
    {
        try
        {
            await previous;
        }
        catch
        {
            // Its caller saw the failure; this sync tries again.
        }
        try
        {
            if (_watched.Count > 0 && _reminder is null)
            {
                _reminder = await this.RegisterOrUpdateReminder(ReminderName, ReminderPeriod, ReminderPeriod);
            }
            else if (_watched.Count == 0 && _reminder is not null)
            {
                await this.UnregisterReminder(_reminder);
                _reminder = null;
            }
        }
        catch (Exception e) when (e is not StorageUnavailableException)
        {
            // Reminders live in storage, and a silo's reminder service answers only once it has read them ("still
            // initializing" for a while after a start): a transient refusal, 503 for the caller to retry, not a 500.
            LogReminderUnavailable(logger, e, Partition);
            throw new StorageUnavailableException("Heartbeat monitoring could not register or remove its reminder now (the reminder service or its storage did not answer). Retry later.");
        }
    }

    private void Track(Watched watched) => _unwritten[watched.DeviceId] = watched.Stored;

    /// <summary>Joins the write that has not started yet, or queues one behind the write in flight (group commit, as the index does).</summary>
    private Task ScheduleWrite()
    {
        if (_pendingWrite is null)
        {
            _pendingWrite = WriteAfter(_lastWrite);
            _lastWrite = _pendingWrite;
        }
        return _pendingWrite;
    }

    private async Task WriteAfter(Task previous)
    {
        await Task.Yield();
        try
        {
            await previous;
        }
        catch
        {
            // Its callers saw the failure; its changes are back among the unwritten ones.
        }
        _pendingWrite = null;
        var changes = _unwritten;
        _unwritten = new(StringComparer.Ordinal);
        if (changes.Count == 0)
        {
            return;
        }
        try
        {
            await store.Apply(Partition, changes.Select(c => new MonitorChange(c.Key, c.Value)).ToArray());
        }
        catch
        {
            foreach (var (id, device) in changes)
            {
                _unwritten.TryAdd(id, device);
            }
            throw;
        }
    }

    [LoggerMessage(EventId = 2157, Level = LogLevel.Warning, Message = "Heartbeat monitor partition {Partition} could not register or remove its reminder; the change is refused with 503 and the next one tries again")]
    private static partial void LogReminderUnavailable(ILogger logger, Exception exception, int partition);

    [LoggerMessage(EventId = 2150, Level = LogLevel.Information, Message = "Heartbeat monitor partition {Partition} activated with {Count} watched devices; each is asked a full interval plus grace from now (its own or the registry default's, the shorter)")]
    private static partial void LogLoaded(ILogger logger, int partition, int count);

    // Debug: each silo tells every partition, so one change is partitions × silos lines (a re-check counted 27 for five
    // partitions and seven silos); the silos' own "changed" line says it once each.
    [LoggerMessage(EventId = 2158, Level = LogLevel.Debug, Message = "Heartbeat monitor partition {Partition} asks {Count} watched devices now: the registry default changed")]
    private static partial void LogDefaultChanged(ILogger logger, int partition, int count);

    [LoggerMessage(EventId = 2151, Level = LogLevel.Warning, Message = "Heartbeat monitor could not ask device {DeviceId}; asking again later")]
    private static partial void LogProbeFailed(ILogger logger, Exception ex, string deviceId);

    [LoggerMessage(EventId = 2155, Level = LogLevel.Debug, Message = "Heartbeat monitor could not ask device {DeviceId} while the silo stops")]
    private static partial void LogProbeFailedStopping(ILogger logger, Exception ex, string deviceId);

    [LoggerMessage(EventId = 2156, Level = LogLevel.Debug, Message = "Heartbeat monitor partition {Partition} asks no device while the silo stops")]
    private static partial void LogStopping(ILogger logger, int partition);

    [LoggerMessage(EventId = 2152, Level = LogLevel.Warning, Message = "Heartbeat monitor partition {Partition} could not store its changes; they go with the next write")]
    private static partial void LogWriteFailed(ILogger logger, Exception ex, int partition);

    [LoggerMessage(EventId = 2153, Level = LogLevel.Information, Message = "Heartbeat alert {OpType} for device {DeviceId}")]
    private static partial void LogAlert(ILogger logger, string opType, string deviceId);

    [LoggerMessage(EventId = 2154, Level = LogLevel.Warning, Message = "Heartbeat alert {OpType} for device {DeviceId} could not be published")]
    private static partial void LogPublishFailed(ILogger logger, Exception ex, string opType, string deviceId);
}
