using Registry.Abstractions;

namespace Registry.Grains.Devices;

/// <summary>
/// What a device grain knows of its device's side, in memory: the current MQTT session, connection state and the last
/// activity and heartbeat. Nothing here touches storage on the hot path; none of it changes the identity's ETag.
/// </summary>
internal sealed class DevicePresence
{
    private Guid? _sessionId;
    private IDeviceSessionObserver? _observer;
    private string? _sessionKey;

    /// <summary>The session this activation last ended (<see cref="Disconnect"/>): a <see cref="Reattach"/> of it came too late.</summary>
    private Guid? _endedSessionId;

    public DeviceConnectionState ConnectionState { get; private set; }

    public DateTime ConnectionStateUpdatedTime { get; private set; }

    public DateTime LastActivityTime { get; private set; }

    /// <summary>The last message (each is a heartbeat), or null when none arrived since this activation.</summary>
    public DateTime? LastHeartbeatTime { get; private set; }

    /// <summary>Messages counted since this activation (bodies are counted, never stored).</summary>
    public long MessageCount { get; private set; }

    public Guid? SessionId => _sessionId;

    /// <summary>The identity as callers see it: the stored identity with the fresh device-side fields laid over it.</summary>
    public DeviceIdentity Overlay(DeviceIdentity identity) => identity with
    {
        ConnectionState = ConnectionState,
        ConnectionStateUpdatedTime = ConnectionStateUpdatedTime,
        LastActivityTime = LastActivityTime,
    };

    /// <summary>
    /// <paramref name="identity"/> as a new activation of its device shows it once it has restored <paramref name="record"/>
    /// (the presence persisted for the device, or null): for a reader of stored rows that activates no grain.
    /// </summary>
    public static DeviceIdentity Restored(DeviceIdentity identity, PresenceRecord? record)
    {
        var presence = new DevicePresence();
        if (record is not null && record.GenerationId == identity.GenerationId)
        {
            presence.Restore(record.LastActivityTime, record.LastHeartbeatTime, record.ConnectionStateUpdatedTime);
        }
        return presence.Overlay(identity);
    }

    /// <summary>Whether the device may act with the key named by <paramref name="keyFingerprint"/> (null: no key to check).</summary>
    public static DeviceAccess Check(DeviceIdentity? identity, string? keyFingerprint)
    {
        if (identity is null)
        {
            return DeviceAccess.NotRegistered;
        }
        if (identity.Status != DeviceStatus.Enabled)
        {
            return DeviceAccess.Disabled;
        }
        if (keyFingerprint is not null && !HasKey(identity, keyFingerprint))
        {
            return DeviceAccess.KeyRevoked;
        }
        return DeviceAccess.Granted;
    }

    /// <summary>Opens <paramref name="session"/>; a previous one is returned so the caller can tell its edge to close it.</summary>
    public (Guid SessionId, IDeviceSessionObserver? Observer)? Connect(DeviceSession session, DateTime now)
    {
        (Guid, IDeviceSessionObserver?)? replaced = _sessionId is { } previous && previous != session.SessionId
            ? (previous, _observer)
            : null;
        Take(session, now);
        LastActivityTime = now;
        return replaced;
    }

    /// <summary>
    /// Takes <paramref name="session"/>, which its edge still holds, as the current one when none is (an activation made
    /// since its CONNECT): Connected, with no activity recorded, since none arrived.
    /// </summary>
    public DeviceAccess Reattach(DeviceSession session, DateTime now)
    {
        if (_sessionId is { } current)
        {
            return current == session.SessionId ? DeviceAccess.Granted : DeviceAccess.SessionReplaced;
        }
        if (session.SessionId == _endedSessionId)
        {
            // The edge's refresh of a session whose Disconnect it sent meanwhile, arriving after it: taken, it showed the
            // device Connected again until the edge ended it a second time (a fresh-clone run read that moment, 2026-12-07).
            return DeviceAccess.SessionUnknown;
        }
        Take(session, now);
        return DeviceAccess.Granted;
    }

    /// <summary><paramref name="session"/> is the current one: the device is Connected (since now, unless it was).</summary>
    private void Take(DeviceSession session, DateTime now)
    {
        _sessionId = session.SessionId;
        _observer = session.Observer;
        _sessionKey = session.KeyFingerprint;
        if (ConnectionState != DeviceConnectionState.Connected)
        {
            ConnectionState = DeviceConnectionState.Connected;
            ConnectionStateUpdatedTime = now;
        }
    }

    /// <summary>Ends <paramref name="sessionId"/> when it is the current session; false when it was not.</summary>
    public bool Disconnect(Guid sessionId, DateTime now)
    {
        if (_sessionId != sessionId)
        {
            return false;
        }
        _endedSessionId = sessionId;
        _sessionId = null;
        _observer = null;
        _sessionKey = null;
        ConnectionState = DeviceConnectionState.Disconnected;
        ConnectionStateUpdatedTime = now;
        return true;
    }

    /// <summary>Whether a message on <paramref name="sessionId"/> belongs to the current session.</summary>
    public DeviceAccess CheckSession(Guid? sessionId) => sessionId switch
    {
        null => DeviceAccess.Granted,
        { } id when id == _sessionId => DeviceAccess.Granted,
        _ when _sessionId is null => DeviceAccess.SessionUnknown,
        _ => DeviceAccess.SessionReplaced,
    };

    /// <summary>Records <paramref name="messages"/> messages (0: a keep-alive ping, which is activity but no heartbeat).</summary>
    public void Record(int messages, DateTime now)
    {
        LastActivityTime = now;
        if (messages > 0)
        {
            LastHeartbeatTime = now;
            MessageCount += messages;
        }
    }

    /// <summary>
    /// Lays what was persisted before this activation under what happened since: a later time in memory wins, since it
    /// is newer than anything written. Connection state is not restored: sessions do not survive their activation; the
    /// time it last changed is, unless it changed since (an import's or a failover's new activation showed "never").
    /// </summary>
    public void Restore(DateTime lastActivityTime, DateTime? lastHeartbeatTime, DateTime connectionStateUpdatedTime)
    {
        if (connectionStateUpdatedTime > ConnectionStateUpdatedTime)
        {
            ConnectionStateUpdatedTime = connectionStateUpdatedTime;
        }
        if (lastActivityTime > LastActivityTime)
        {
            LastActivityTime = lastActivityTime;
        }
        if (lastHeartbeatTime > (LastHeartbeatTime ?? default))
        {
            LastHeartbeatTime = lastHeartbeatTime;
        }
    }

    /// <summary>After an acknowledged identity write: ends the current session when its device or key may no longer act.</summary>
    public void RevokeIfRefused(string deviceId, DeviceIdentity? identity, DateTime now)
    {
        if (_sessionId is null)
        {
            return;
        }
        switch (Check(identity, _sessionKey))
        {
            case DeviceAccess.NotRegistered:
                Revoke(deviceId, SessionCloseReason.Deleted, now);
                break;
            case DeviceAccess.Disabled:
                Revoke(deviceId, SessionCloseReason.Disabled, now);
                break;
            case DeviceAccess.KeyRevoked:
                Revoke(deviceId, SessionCloseReason.KeyRevoked, now);
                break;
        }
    }

    /// <summary>
    /// After an acknowledged delete: a device created again under the id is a new device (a new generationId) and starts
    /// as IoT Hub's do, never connected and never active, not with the activity of the one deleted.
    /// </summary>
    public void Forget(string deviceId, DateTime now)
    {
        RevokeIfRefused(deviceId, null, now);
        ConnectionState = DeviceConnectionState.Disconnected;
        ConnectionStateUpdatedTime = default;
        LastActivityTime = default;
        LastHeartbeatTime = null;
        MessageCount = 0;
    }

    /// <summary>Ends the current session because the device may no longer act; its edge is told to close it.</summary>
    private void Revoke(string deviceId, SessionCloseReason reason, DateTime now)
    {
        if (_sessionId is { } id)
        {
            var observer = _observer;
            Disconnect(id, now);
            observer?.Close(deviceId, id, reason).Ignore();
        }
    }

    private static bool HasKey(DeviceIdentity identity, string keyFingerprint) =>
        identity.Authentication.SymmetricKey is { } keys
        && (Matches(keys.PrimaryKey, keyFingerprint) || Matches(keys.SecondaryKey, keyFingerprint));

    private static bool Matches(string? key, string fingerprint) =>
        key is not null && string.Equals(DeviceKeyFingerprint.Of(key), fingerprint, StringComparison.Ordinal);
}
