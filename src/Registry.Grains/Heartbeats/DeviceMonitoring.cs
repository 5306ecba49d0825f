using Microsoft.Extensions.Logging;
using Registry.Abstractions;
using Registry.Grains.Devices;

namespace Registry.Grains.Heartbeats;

/// <summary>
/// The device grain's side of heartbeat monitoring. A heartbeat stays an in-memory update: it calls the monitor partition
/// only on a transition, when monitoring has not started in this activation (the join) or after the partition declared
/// an outage (the recovery), and then without holding the heartbeat up. The partition asks <see cref="Probe"/> when the
/// device's deadline passes. One instance belongs to one <see cref="DeviceGrain"/> activation and runs only in its turns.
/// </summary>
internal sealed partial class DeviceMonitoring(
    IGrainFactory grains,
    string deviceId,
    int partitions,
    HeartbeatMonitorOptions options,
    DateTime activatedAt,
    ILogger logger)
{
    private bool _joined;
    private bool _inOutage;
    private int _outageMarks;
    private DateTime? _armedAt;
    private Task? _pending;
    private bool _joinQueued;
    private DateTime _renewKeepAliveAt;

    private IHeartbeatMonitorGrain Partition =>
        grains.GetGrain<IHeartbeatMonitorGrain>(DevicePartitioner.PartitionOf(deviceId, partitions));

    /// <summary>The policy in effect: none for an unregistered or disabled device; else the device's override, else the registry default.</summary>
    public HeartbeatPolicy? PolicyFor(DeviceState state) =>
        state.Identity is not { Status: DeviceStatus.Enabled } ? null : SettingFor(state);

    /// <summary>
    /// Whether this activation holds what the device's deadline is measured from (a heartbeat it joined monitoring with,
    /// or the time monitoring was armed): deactivated, a new activation would measure from its own start instead.
    /// </summary>
    public bool Timing => _joined || _armedAt is not null;

    /// <summary>The device's policy whatever its status: its override, else the registry default.</summary>
    private HeartbeatPolicy? SettingFor(DeviceState state) =>
        state.Heartbeat is { } own ? own.Policy : options.DefaultPolicy;

    /// <summary>On the heartbeat path, after the heartbeat is recorded: no call unless this is a transition.</summary>
    public void OnHeartbeat(DeviceState state, DateTime now)
    {
        if ((_joined && !_inOutage) || _joinQueued || PolicyFor(state) is not { } policy)
        {
            return;
        }
        // After a connect's arm still in flight, not instead of it: the join carries the heartbeat, which ends an outage.
        _joinQueued = true;
        _pending = Join(_pending, policy, now);
    }

    /// <summary>
    /// On a granted connect: a device this activation does not time yet is timed from its connect, so a device that
    /// connects and never sends a message (a keep-alive ping is activity, not a heartbeat) is still missed interval plus
    /// grace after it connected (hostile review, 2026-12-06: it was never watched, and no alert came when it died). A
    /// connect is no heartbeat: it ends no outage, and the device's first message still joins with its heartbeat.
    /// </summary>
    public void OnConnect(DeviceState state, DateTime now)
    {
        if (Timing || _pending is not null || PolicyFor(state) is not { } policy)
        {
            return;
        }
        _armedAt = now;
        _pending = WatchFrom(policy, now);
    }

    private async Task WatchFrom(HeartbeatPolicy policy, DateTime now)
    {
        try
        {
            await Partition.Watch(deviceId, policy, now, null);
        }
        catch (Exception ex)
        {
            // The partition is not told: the device's next heartbeat joins. A partition that already watches it (from an
            // earlier activation) still measures from the connect, as Probe reads _armedAt.
            LogJoinFailed(logger, ex, deviceId);
        }
        finally
        {
            if (!_joinQueued)
            {
                _pending = null; // else the join queued behind this arm is pending now, and clears it itself
            }
        }
    }

    private async Task Join(Task? before, HeartbeatPolicy policy, DateTime heartbeat)
    {
        if (before is not null)
        {
            await before; // a connect's arm, which never throws
        }
        var marks = _outageMarks;
        try
        {
            await Partition.Watch(deviceId, policy, heartbeat, heartbeat);
            _joined = true;
            if (marks == _outageMarks)
            {
                _inOutage = false;
            }
        }
        catch (Exception ex)
        {
            // The next heartbeat tries again; meanwhile the partition, if it already watches the device, still asks it.
            LogJoinFailed(logger, ex, deviceId);
        }
        finally
        {
            _joinQueued = false;
            _pending = null;
        }
    }

    /// <summary>
    /// How long the grain must stay active so that its deadline is judged by this activation, or null when the keep-alive
    /// it has covers that. A grain collected as idle before its deadline (<c>Registry:DeviceIdleMinutes</c> shorter than
    /// interval plus grace) was activated anew by the monitor's question, which then measured a full deadline from that
    /// activation: the alert came a whole deadline late, with the wrong outage start (hostile review, 2026-12-04). Asked on
    /// every heartbeat: a comparison, and a policy lookup at most once per deadline.
    /// </summary>
    public TimeSpan? KeepAlive(DeviceState state, DateTime now)
    {
        if (now < _renewKeepAliveAt || PolicyFor(state) is not { } policy)
        {
            return null;
        }
        var span = policy.Deadline + HeartbeatMonitorGrain.ReminderPeriod;
        _renewKeepAliveAt = now + span;
        return span + span;
    }

    /// <summary>The grain's keep-alive was reset (a session ended): the next <see cref="KeepAlive"/> renews it.</summary>
    public void ForgetKeepAlive() => _renewKeepAliveAt = default;

    /// <summary>The monitor asks: the device's policy and whether it is silent past interval plus grace.</summary>
    public HeartbeatProbe Probe(DeviceState state, DateTime? lastHeartbeat, DateTime now)
    {
        if (PolicyFor(state) is not { } policy)
        {
            // The partition drops the device on this answer: its next heartbeat joins again, should a policy come back (a
            // registry default switched off and on again). Without this the activation still believed itself joined and
            // never rejoined: watched no more, though it went on beating (hostile review, 2026-12-07).
            _joined = false;
            _inOutage = false;
            _armedAt = null;
            return new HeartbeatProbe(null, now, lastHeartbeat, false);
        }
        // A device activated after a crash has lost its last heartbeat: it is not silent until a full deadline since then.
        var reference = Latest(Latest(lastHeartbeat, activatedAt), _armedAt);
        var dueAt = reference + policy.Deadline;
        var missed = now >= dueAt;
        if (missed)
        {
            _inOutage = true;
            _outageMarks++;
        }
        return new HeartbeatProbe(policy, dueAt, lastHeartbeat, missed);
    }

    /// <summary>
    /// After the device's override changed: monitoring starts now under the new policy, or stops. An outage the new policy
    /// does not bear out (the device's last heartbeat, or the start of its monitoring, is within the new interval plus
    /// grace) ends quietly, as when monitoring is switched off: no heartbeat came, so nothing recovered; one it does bear
    /// out goes on, not announced twice.
    /// </summary>
    public async Task Arm(DeviceState state, DateTime? lastHeartbeat, DateTime now)
    {
        await Settled();
        if (PolicyFor(state) is { } policy)
        {
            // Silent since its last heartbeat, else since its monitoring was armed; failing both (an activation that has
            // seen neither, after a restart), since the outage's start. Not since this activation: that floor keeps a
            // device whose heartbeat a crash lost from being missed, and here it would end a real outage to announce it
            // again one deadline later (re-check of the review's fix, 2026-12-04).
            var previousArm = _armedAt;
            _renewKeepAliveAt = default;
            _armedAt = now;
            if (await Partition.OutageOf(deviceId) is { } outageSince
                && now < (lastHeartbeat is null && previousArm is null ? outageSince : Latest(lastHeartbeat, previousArm)) + policy.Deadline)
            {
                await Partition.Unwatch(deviceId);
                _inOutage = false;
                _outageMarks++;
            }
            await Partition.Watch(deviceId, policy, now, null);
            _joined = true;
        }
        else
        {
            await Disarm();
        }
    }

    /// <summary>
    /// After an acknowledged re-enable: monitoring starts now, as after a <c>PUT</c> of a policy. The update already
    /// stands, so a partition that cannot be told now is not the caller's error: the deadline still runs from now and
    /// the device's next heartbeat joins.
    /// </summary>
    public async Task Rearm(DeviceState state, DateTime now)
    {
        try
        {
            await Arm(state, null, now);
        }
        catch (Exception ex)
        {
            _armedAt = now;
            LogJoinFailed(logger, ex, deviceId);
        }
    }

    /// <summary>
    /// After an acknowledged delete or disable, or monitoring switched off: the partition stops watching at once. If it
    /// cannot be told now, its next question finds the device unmonitored and drops it.
    /// </summary>
    public async Task Disarm()
    {
        await Settled();
        _joined = false;
        _inOutage = false;
        _armedAt = null;
        try
        {
            await Partition.Unwatch(deviceId);
        }
        catch (Exception ex)
        {
            LogDisarmFailed(logger, ex, deviceId);
        }
    }

    /// <summary>The state <c>GET /devices/{id}/heartbeat</c> shows, after any transition in flight has landed.</summary>
    public async Task<DeviceHeartbeat> Status(DeviceState state, DateTime? lastHeartbeat)
    {
        await Settled();
        var policy = PolicyFor(state);
        var outage = policy is null ? null : await Partition.OutageOf(deviceId);
        var watched = outage is not null || (policy is not null && await Partition.IsWatching(deviceId));
        var source = state.Heartbeat is null ? HeartbeatPolicySource.Registry : HeartbeatPolicySource.Device;
        return new DeviceHeartbeat(deviceId, SettingFor(state), source, lastHeartbeat, outage)
        {
            DeviceDisabled = state.Identity is not { Status: DeviceStatus.Enabled },
            Watched = watched,
        };
    }

    private async Task Settled()
    {
        if (_pending is { } pending)
        {
            await pending;
        }
    }

    private static DateTime Latest(DateTime? a, DateTime? b) =>
        a is { } x && b is { } y ? (x > y ? x : y) : a ?? b ?? DateTime.MinValue;

    [LoggerMessage(EventId = 2160, Level = LogLevel.Warning, Message = "Device {DeviceId} could not join its heartbeat monitor partition; its next heartbeat tries again")]
    private static partial void LogJoinFailed(ILogger logger, Exception ex, string deviceId);

    [LoggerMessage(EventId = 2161, Level = LogLevel.Warning, Message = "Device {DeviceId} could not tell its heartbeat monitor partition to stop; the partition drops it when it next asks")]
    private static partial void LogDisarmFailed(ILogger logger, Exception ex, string deviceId);
}
