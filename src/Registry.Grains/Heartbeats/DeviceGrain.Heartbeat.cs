using Registry.Abstractions;
using Registry.Grains.Heartbeats;

namespace Registry.Grains.Devices;

/// <summary>The device grain's heartbeat monitoring surface: its override, its status, and the monitor's question.</summary>
public sealed partial class DeviceGrain : IDeviceHeartbeatGrain, IMonitoredDevice, Jobs.IImportedDevice
{
    public async Task<DeviceHeartbeat> GetHeartbeat()
    {
        await Index.Load();
        _ = _state.State.Identity ?? throw RegistryException.DeviceNotFound(DeviceId);
        await RestorePresence();
        return await _monitoring.Status(_state.State, _presence.LastHeartbeatTime);
    }

    public async Task<DeviceHeartbeat> SetHeartbeat(HeartbeatOverride? setting)
    {
        setting?.Policy?.EnsureValid();
        await Index.Load();
        var identity = _state.State.Identity ?? throw RegistryException.DeviceNotFound(DeviceId);
        _state.State.Heartbeat = setting;
        // The identity is unchanged (so is its ETag); a write that fails re-reads what storage holds, setting included.
        await Index.Write(() => _state.WriteStateAsync(), previous: identity);
        await RestorePresence();
        await _monitoring.Arm(_state.State, _presence.LastHeartbeatTime, Now);
        KeepAliveWhileMonitored(Now);
        return await _monitoring.Status(_state.State, _presence.LastHeartbeatTime);
    }

    public async Task<HeartbeatProbe> Probe()
    {
        await Index.Load();
        await RestorePresence();
        var probe = _monitoring.Probe(_state.State, _presence.LastHeartbeatTime, Now);
        if (probe.Policy is { } policy)
        {
            // Not collected as idle before the monitor asks again: a fresh activation would restart the device's deadline.
            KeepActiveFor(policy.Deadline + HeartbeatMonitorGrain.ReminderPeriod);
        }
        return probe;
    }

    /// <summary>
    /// An import's line is done. A monitored device that beat in this activation stays: the activation the monitor would
    /// wake measures a full deadline from its own start, so an import (or a read after it) put the alert up to a deadline
    /// late (hostile review, 2026-12-05). Its keep-alive already bounds how long it stays.
    /// </summary>
    public Task Rest()
    {
        if (_presence.ConnectionState != DeviceConnectionState.Connected && !_monitoring.Timing)
        {
            DeactivateOnIdle();
        }
        return Task.CompletedTask;
    }

    /// <summary>Not collected as idle before the monitor judges this activation's deadline (<see cref="DeviceMonitoring.KeepAlive"/>).</summary>
    private void KeepAliveWhileMonitored(DateTime now)
    {
        if (_monitoring.KeepAlive(_state.State, now) is { } span)
        {
            KeepActiveFor(span);
        }
    }

    /// <summary>
    /// Keeps the grain from idle collection for <paramref name="span"/>, unless an open session keeps it for good: Orleans'
    /// keep-alive is replaced, not extended, so a finite one would end that (a session's end re-applies monitoring's).
    /// </summary>
    private void KeepActiveFor(TimeSpan span)
    {
        if (_presence.ConnectionState != DeviceConnectionState.Connected)
        {
            DelayDeactivation(span);
        }
    }
}
