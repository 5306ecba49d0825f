using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;
using Registry.Grains.Events;
using Registry.Grains.Heartbeats;
using Registry.Grains.Index;

namespace Registry.Grains.Devices;

/// <summary>
/// The source of truth for one device. Every write follows the index protocol through <see cref="IndexMembership"/>,
/// which explains it whole, so the index is always a superset of the registry. Its state is loaded on the first call
/// (<see cref="DeviceStorage"/>), from storage only when the index holds the id.
/// </summary>
public sealed partial class DeviceGrain : Grain, IDeviceGrain, IIndexedDevice, IPresenceSource
{
    private readonly DeviceStorage _state;
    private readonly IOptions<RegistryIndexOptions> _indexOptions;
    private readonly TimeProvider _clock;
    private readonly ILogger<DeviceGrain> _logger;
    private readonly LifecycleNotifications _lifecycle;
    private readonly DeviceETags _etags;
    private readonly DevicePresence _presence = new();
    private readonly DeviceMonitoring _monitoring;
    private readonly PresenceWriter _writer;
    private readonly IPresenceStore _presenceStore;
    private readonly ConnectedDevices _connected;
    private readonly ActiveDevices _active;
    private IndexMembership? _index;
    // This activation's place at the writer, made when it is first queued there.
    private PresenceMark? _mark;
    // 1 while this device waits at the writer (set by the grain, cleared by the writer's thread): one mark per write.
    private int _dirty;
    // Whether the presence persisted before this activation has been laid under the in-memory one.
    private bool _presenceRestored;

    public DeviceGrain(
        [FromKeyedServices(StorageNames.Registry)] IGrainStorage storage,
        IOptions<RegistryIndexOptions> indexOptions,
        IOptions<HeartbeatMonitorOptions> heartbeatOptions,
        [FromKeyedServices(RegistryClock.Key)] TimeProvider clock,
        PresenceWriter writer,
        IPresenceStore presenceStore,
        ConnectedDevices connected,
        ActiveDevices active,
        ILogger<DeviceGrain> logger,
        LifecycleNotifications lifecycle,
        DeviceETags etags)
    {
        _state = new DeviceStorage(storage, this.GetGrainId());
        _indexOptions = indexOptions;
        _clock = clock;
        _writer = writer;
        _presenceStore = presenceStore;
        _connected = connected;
        _active = active;
        _logger = logger;
        DeviceId = this.GetPrimaryKeyString();
        _monitoring = new DeviceMonitoring(GrainFactory, DeviceId, indexOptions.Value.Partitions, heartbeatOptions.Value, Now, logger);
        _lifecycle = lifecycle;
        _etags = etags;
    }

    /// <summary>Decoded once per activation: the grain id's key decodes to a new string on every read.</summary>
    public string DeviceId { get; }

    private IndexMembership Index => _index ??= new(this, GrainFactory, DeviceId, _state, _indexOptions.Value, _logger);

    public async Task<DeviceIdentity?> Get()
    {
        await Index.Load();
        await RestorePresence();
        return Current;
    }

    /// <summary>
    /// Once per activation, before presence is shown: what was persisted before it (a restart or a move to another
    /// silo). Skipped when the device acted since activation (that is newer) or a read is pointless (not registered).
    /// </summary>
    private async Task RestorePresence()
    {
        if (_presenceRestored)
        {
            return;
        }
        if (_state.State.Identity is not { } identity || _presence.LastActivityTime != default)
        {
            _presenceRestored = true;
            return;
        }
        try
        {
            var record = await _presenceStore.Read(DevicePartitioner.PartitionOf(DeviceId, _indexOptions.Value.Partitions), DeviceId);
            if (record is not null && record.GenerationId == identity.GenerationId && _state.State.Identity == identity)
            {
                _presence.Restore(record.LastActivityTime, record.LastHeartbeatTime, record.ConnectionStateUpdatedTime);
            }
            _presenceRestored = true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Shown as never active this time; the next read tries again.
            LogPresenceReadFailed(_logger, e, DeviceId);
        }
    }

    /// <summary>Presence changed: queue this device at the silo's writer unless it is queued already (the hot path's only cost).</summary>
    private void Touched()
    {
        if (Interlocked.Exchange(ref _dirty, 1) == 0)
        {
            _writer.MarkDirty(_mark ??= new PresenceMark(this));
        }
    }

    /// <summary>Called by the writer off this grain's turn: reads are of single references and 64-bit values.</summary>
    PresenceRecord? IPresenceSource.TakeSnapshot()
    {
        if (Interlocked.Exchange(ref _dirty, 0) == 0)
        {
            return null; // written already (on deactivation)
        }
        var identity = _state.State.Identity;
        var lastActivity = _presence.LastActivityTime;
        return identity is null || lastActivity == default
            ? null
            : new PresenceRecord(DeviceId, identity.GenerationId, lastActivity, _presence.LastHeartbeatTime, _presence.ConnectionStateUpdatedTime);
    }

    /// <summary>Known to this silo as active from here on: a listing then reads the device through this activation.</summary>
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _active.Activated(DeviceId);
        return base.OnActivateAsync(cancellationToken);
    }

    /// <summary>
    /// Deactivated while still queued (idle, moved): written now, so a next activation elsewhere reads it. A silo that
    /// shuts down leaves it to the writer's last batch instead of one write per device. Otherwise the writer's queue
    /// lets go of this activation: what it would write is taken here.
    /// </summary>
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        try
        {
            await Deactivate(reason, cancellationToken);
        }
        finally
        {
            // Only once its presence is written: a listing that reads the device from storage from now on reads that.
            _active.Deactivated(DeviceId);
        }
    }

    private async Task Deactivate(DeactivationReason reason, CancellationToken cancellationToken)
    {
        PresenceRecord? record = null;
        if (reason.ReasonCode != DeactivationReasonCode.ShuttingDown)
        {
            record = ((IPresenceSource)this).TakeSnapshot();
            _mark?.Release();
        }
        if (record is not null)
        {
            try
            {
                await _presenceStore.Write(DevicePartitioner.PartitionOf(DeviceId, _indexOptions.Value.Partitions), [record]);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogPresenceWriteFailed(_logger, e, DeviceId);
            }
        }
        // A session does not outlive its activation: the device is no longer counted as connected on this silo. A silo
        // that shuts down is dropped from the count whole, so its grains do not each call the count grain on the way out.
        if (reason.ReasonCode == DeactivationReasonCode.ShuttingDown)
        {
            _connected.Forget(DeviceId);
        }
        else
        {
            await _connected.Remove(DeviceId);
        }
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    [LoggerMessage(EventId = 2121, Level = LogLevel.Warning, Message = "Could not read the persisted presence of device {DeviceId}")]
    private static partial void LogPresenceReadFailed(ILogger logger, Exception exception, string deviceId);

    [LoggerMessage(EventId = 2122, Level = LogLevel.Warning, Message = "Could not write the presence of device {DeviceId} on deactivation")]
    private static partial void LogPresenceWriteFailed(ILogger logger, Exception exception, string deviceId);

    /// <summary>The stored identity with the fresh device-side fields laid over it, or null when not registered.</summary>
    private DeviceIdentity? Current => _state.State.Identity is { } identity ? _presence.Overlay(identity) : null;

    private DateTime Now => _clock.GetUtcNow().UtcDateTime;

    /// <summary>Whether the device may act with the session's key, once its state is loaded.</summary>
    private async Task<DeviceAccess> Admits(DeviceSession session)
    {
        await Index.Load();
        return DevicePresence.Check(_state.State.Identity, session.KeyFingerprint);
    }

    public async Task<DeviceAccess> Connect(DeviceSession session)
    {
        if (await Admits(session) is not DeviceAccess.Granted and var refused)
        {
            return refused;
        }
        var before = _presence.ConnectionState;
        var now = Now;
        var replaced = _presence.Connect(session, now);
        Touched();
        _monitoring.OnConnect(_state.State, now);
        if (replaced is { } previous)
        {
            previous.Observer?.Close(DeviceId, previous.SessionId, SessionCloseReason.Replaced).Ignore();
        }
        await ConnectionChanged(before);
        return DeviceAccess.Granted;
    }

    public async Task<DeviceAccess> Reattach(DeviceSession session)
    {
        if (await Admits(session) is not DeviceAccess.Granted and var refused)
        {
            return refused;
        }
        var before = _presence.ConnectionState;
        var access = _presence.Reattach(session, Now);
        if (before != _presence.ConnectionState)
        {
            Touched();
        }
        await ConnectionChanged(before);
        return access;
    }

    public Task Disconnect(Guid sessionId)
    {
        var before = _presence.ConnectionState;
        if (_presence.Disconnect(sessionId, Now))
        {
            Touched(); // the time of the change is presence too: a later activation shows it (review, stop 32)
        }
        return ConnectionChanged(before);
    }

    /// <summary>
    /// Keeps the silo's set of connected devices (<see cref="ConnectedDevices"/>, statistics' connectedDeviceCount) in
    /// step with this device's transitions; a call without a transition costs nothing.
    /// An open session also keeps the grain from idle collection (<c>Registry:DeviceIdleMinutes</c>): the session lives in
    /// this activation, and a device with a long keep-alive (or 0) is silent for longer than that age, so collecting it
    /// counted the device disconnected while its connection stayed open and could no longer be closed on a disable.
    /// </summary>
    private Task ConnectionChanged(DeviceConnectionState before)
    {
        if (before == _presence.ConnectionState)
        {
            return Task.CompletedTask;
        }
        if (_presence.ConnectionState == DeviceConnectionState.Connected)
        {
            DelayDeactivation(Timeout.InfiniteTimeSpan);
            return _connected.Add(DeviceId);
        }
        DelayDeactivation(TimeSpan.Zero); // collected by its idle age again, unless monitoring still needs it
        _monitoring.ForgetKeepAlive();
        KeepAliveWhileMonitored(Now);
        return _connected.Remove(DeviceId);
    }

    public Task<DeviceAccess> Message(DeviceMessage message) =>
        // The hot path: once loaded, no await, no storage and no allocation.
        _state.Loaded ? Answers[(int)Record(message)] : LoadThenRecord(message);

    public Task<DeviceAccess> Heartbeat() => Message(ClientHeartbeat);

    /// <summary>A client app's heartbeat: one message, no session, no key to check.</summary>
    private static readonly DeviceMessage ClientHeartbeat = new(DeviceTransport.Grain, null, null, 1);

    /// <summary>One completed task per answer, so the hot path allocates none.</summary>
    private static readonly Task<DeviceAccess>[] Answers =
        Enum.GetValues<DeviceAccess>().OrderBy(a => (int)a).Select(Task.FromResult).ToArray();

    private async Task<DeviceAccess> LoadThenRecord(DeviceMessage message)
    {
        await Index.Load();
        return Record(message);
    }

    private DeviceAccess Record(DeviceMessage message)
    {
        var access = DevicePresence.Check(_state.State.Identity, message.KeyFingerprint);
        if (access == DeviceAccess.Granted)
        {
            access = _presence.CheckSession(message.SessionId);
        }
        if (access == DeviceAccess.Granted)
        {
            var now = Now;
            _presence.Record(message.Messages, now);
            Touched();
            if (message.Messages > 0)
            {
                RegistryMetrics.Heartbeats.Add(message.Messages);
                _monitoring.OnHeartbeat(_state.State, now);
                KeepAliveWhileMonitored(now);
            }
        }
        return access;
    }

    public async Task<DeviceIdentity> Create(DeviceIdentityInput input)
    {
        var auth = Validate(input);
        await Index.Load();
        if (_state.State.Identity is not null)
        {
            throw RegistryException.DeviceAlreadyExists(DeviceId);
        }
        return await CreateCore(input, auth);
    }

    public async Task<DeviceIdentity> Update(DeviceIdentityInput input, ETagCondition condition)
    {
        RequireCondition(condition);
        var auth = Validate(input);
        await Index.Load();
        var current = _state.State.Identity ?? throw RegistryException.DeviceNotFound(DeviceId);
        return await UpdateCore(current, input, auth, condition);
    }

    public async Task<DeviceIdentity> CreateOrUpdate(DeviceIdentityInput input, ETagCondition condition)
    {
        RequireCondition(condition);
        var auth = Validate(input);
        await Index.Load();
        if (_state.State.Identity is { } current)
        {
            return await UpdateCore(current, input, auth, condition);
        }
        try
        {
            return await CreateCore(input, auth);
        }
        catch (RegistryException e) when (e.Code == RegistryErrorCode.DeviceAlreadyExists && _state.State.Identity is { } landed)
        {
            // The insert met a row after all: an earlier write of this device that timed out landed later (a client's
            // retry of its own createOrUpdate meets it). A createOrUpdate never conflicts: it updates what is there.
            return await UpdateCore(landed, input, auth, condition);
        }
    }

    /// <summary>A client app's null condition was a NullReferenceException (a review, 2026-12-07).</summary>
    private static void RequireCondition(ETagCondition? condition)
    {
        if (condition is null)
        {
            throw RegistryException.Invalid("A write needs its ETag condition: ETagCondition.Any writes whatever is stored, ETagCondition.Of(etag) only that version (null was sent).");
        }
    }

    public async Task Delete(ETagCondition condition)
    {
        RequireCondition(condition);
        await Index.Load();
        var current = _state.State.Identity ?? throw RegistryException.DeviceNotFound(DeviceId);
        if (!condition.Matches(current.ETag))
        {
            throw RegistryException.PreconditionFailed(DeviceId);
        }

        var monitored = _monitoring.PolicyFor(_state.State) is not null;
        var intent = _lifecycle.BeforeDelete(DeviceId, current.GenerationId, Now);
        // The event's intent row is in storage before the delete can be: a silo dying after it landed leaves the row.
        await LifecycleNotifications.Stored(intent);
        _state.State.Identity = null;
        try
        {
            await Index.Write(() => _state.ClearStateAsync(), previous: current);
        }
        catch (Exception) when (_state.State.Identity is null)
        {
            // Failed as far as this call knows, yet the read after it found the row gone: the delete landed.
            await _lifecycle.Landed(intent);
            throw;
        }
        catch (Exception)
        {
            await _lifecycle.MayLand(intent);
            DeactivateOnIdle();
            throw;
        }
        try
        {
            _state.State.Heartbeat = null;
            var before = _presence.ConnectionState;
            _presence.Forget(DeviceId, Now);
            await ConnectionChanged(before);
            _presenceRestored = true; // a device created again is new: nothing to restore
            await Index.RemoveAfterDelete();
            if (monitored)
            {
                await _monitoring.Disarm();
            }
        }
        finally
        {
            await _lifecycle.Landed(intent);
        }
    }

    /// <summary>
    /// A listing's read: the device as <see cref="Get"/> shows it, its persisted presence read once per activation. A
    /// device whose grain had gone idle was listed as never active (lastActivityTime and connectionStateUpdatedTime at
    /// their minimum) while a GET showed its real times (hostile review, 2026-12-06). The cost is a presence read per idle
    /// device listed, as a GET of it has. The index's verification pass (<see cref="Verify"/>), which reaches every device
    /// after a restart and shows nothing, does not read presence.
    /// </summary>
    public async Task<DeviceIdentity?> ReadForIndex(bool indexedAsEnabled)
    {
        if (await Index.ReadForIndex(indexedAsEnabled) is not { } identity)
        {
            return null;
        }
        await RestorePresence();
        return _presence.Overlay(identity);
    }

    public Task Verify(bool indexedAsEnabled) => Index.Verify(indexedAsEnabled);

    public Task Reconcile() => Index.Reconcile();

    private AuthenticationMechanism Validate(DeviceIdentityInput input)
    {
        if (!string.Equals(input.DeviceId, DeviceId, StringComparison.Ordinal))
        {
            throw RegistryException.Invalid($"The device id in the body ('{input.DeviceId}') does not match '{DeviceId}'.");
        }
        return DeviceValidation.NormalizeAuthentication(input);
    }

    private async Task<DeviceIdentity> CreateCore(DeviceIdentityInput input, AuthenticationMechanism auth)
    {
        var now = _clock.GetUtcNow().UtcDateTime;
        var generationId = Credentials.NewGenerationId(now);
        var capabilities = input.Capabilities ?? new DeviceCapabilities(false);
        var identity = new DeviceIdentity
        {
            DeviceId = DeviceId,
            GenerationId = generationId,
            ETag = _etags.Next(),
            Status = input.Status,
            StatusReason = input.StatusReason,
            StatusUpdatedTime = now,
            Authentication = WithGeneratedKeys(auth, previous: null),
            Capabilities = capabilities,
            DeviceScope = capabilities.IotEdge ? GivenOrNewEdgeScope(input, generationId) : NoneIfEmpty(input.DeviceScope),
            ParentScopes = input.ParentScopes?.ToArray() ?? [],
        };
        if (capabilities.IotEdge && identity.ParentScopes.Any(parent => IsSameScope(parent, identity.DeviceScope!)))
        {
            throw RegistryException.Invalid($"parentScopes names '{identity.DeviceScope}', the device's own scope: a device cannot be its own parent.");
        }

        // The event's intent row is stored while the index entry is, and both before the device's write: a silo dying
        // after that write landed leaves the row for another silo to send (a review saw one create of 300 never
        // announced after a kill -9, 2026-12-07).
        var intent = _lifecycle.BeforeCreate(DeviceId, generationId, now);
        try
        {
            // Index first: if we die after this line the index holds a phantom, never a missing device.
            await Index.AddBeforeWrite(identity);
        }
        catch (Exception)
        {
            _lifecycle.NotLanded(intent);
            throw;
        }
        await LifecycleNotifications.Stored(intent);
        _state.State.Identity = identity;
        try
        {
            await Index.Write(() => _state.WriteStateAsync(), previous: null);
        }
        catch (InconsistentStateException) when (_state.State.Identity is not null)
        {
            // Storage refused the insert because a record exists after all (an earlier write that timed out landed
            // later), and the failed write re-read it: the device is registered, so this create answers as any create
            // of a registered device does, not as a server error. An import replaying its own line then sees it applied.
            _lifecycle.NotLanded(intent);
            throw RegistryException.DeviceAlreadyExists(DeviceId);
        }
        catch (Exception) when (_state.State.Identity?.GenerationId == identity.GenerationId)
        {
            // The write failed as far as this call knows, yet the read after it found the row landed: the device exists,
            // so its notification is raised, though the call answers the failure (a review saw such devices, answered
            // 503, never announced, 2026-12-07).
            await _lifecycle.Landed(intent);
            throw;
        }
        catch (Exception)
        {
            // Not known to have landed, and it still may (a timed-out write goes on): kept to verify later (the outbox),
            // and this activation goes, so the next call (the verification's among them) reads what storage holds then
            // instead of this activation's view from before the write landed.
            await _lifecycle.MayLand(intent);
            DeactivateOnIdle();
            throw;
        }
        await Index.ConfirmAfterWrite(identity);
        await _lifecycle.Landed(intent);
        return _presence.Overlay(identity);
    }

    private async Task<DeviceIdentity> UpdateCore(
        DeviceIdentity current, DeviceIdentityInput input, AuthenticationMechanism auth, ETagCondition condition)
    {
        EnsureNotOwnParent(current, input);
        if (!condition.Matches(current.ETag))
        {
            throw RegistryException.PreconditionFailed(DeviceId);
        }

        var statusChanged = current.Status != input.Status;
        var updated = current with
        {
            ETag = _etags.Next(),
            Status = input.Status,
            StatusReason = input.StatusReason,
            StatusUpdatedTime = statusChanged ? _clock.GetUtcNow().UtcDateTime : current.StatusUpdatedTime,
            // No authentication in the body keeps the device's credentials, whatever their kind.
            Authentication = input.Authentication is null ? current.Authentication : WithGeneratedKeys(auth, previous: current.Authentication),
            Capabilities = input.Capabilities ?? current.Capabilities,
            DeviceScope = ScopeAfterUpdate(current, input),
            ParentScopes = input.ParentScopes?.ToArray() ?? current.ParentScopes,
        };

        if (statusChanged)
        {
            // Statistics count by status: flag the index before the write, like a create.
            await Index.AddBeforeWrite(updated);
        }
        var monitored = _monitoring.PolicyFor(_state.State) is not null;
        _state.State.Identity = updated;
        await Index.Write(() => _state.WriteStateAsync(), previous: current);
        if (statusChanged)
        {
            await Index.ConfirmAfterWrite(updated);
        }
        // Acknowledged: from here no session of a device that may no longer act stays open.
        var before = _presence.ConnectionState;
        _presence.RevokeIfRefused(DeviceId, updated, Now);
        await ConnectionChanged(before);
        var monitoredNow = _monitoring.PolicyFor(_state.State) is not null;
        if (monitored && !monitoredNow)
        {
            await _monitoring.Disarm();
        }
        else if (!monitored && monitoredNow)
        {
            // Re-enabled: a device that never beats again must still be missed, so its deadline starts now.
            await _monitoring.Rearm(_state.State, Now);
            KeepAliveWhileMonitored(Now);
        }
        return _presence.Overlay(updated);
    }

    /// <summary>
    /// Sas without keys means "generate them". On update, a device that already has keys keeps them when the
    /// request sends none (the SDKs send the device they read, so blank keys only come from hand-made bodies).
    /// </summary>
    private static AuthenticationMechanism WithGeneratedKeys(AuthenticationMechanism auth, AuthenticationMechanism? previous)
    {
        if (auth.Type != AuthenticationType.Sas || auth.SymmetricKey is not null)
        {
            return auth;
        }
        if (previous is { Type: AuthenticationType.Sas, SymmetricKey: { } keys })
        {
            return auth with { SymmetricKey = keys };
        }
        return auth with { SymmetricKey = new SymmetricKey(Base64Key.Generate(), Base64Key.Generate()) };
    }

    /// <summary>An edge device's scope is the registry's to mint, once, as IoT Hub does; callers cannot change it.</summary>
    private const string EdgeScheme = "ms-azure-iot-edge://";

    private string EdgeScope(string generationId) => $"{EdgeScheme}{DeviceId}-{generationId}";

    /// <summary>
    /// A device that becomes edge keeps a scope in its own form (<c>ms-azure-iot-edge://{id}-{generation}</c>, as an
    /// export wrote it in another registry): its children, imported with it, still name that scope. Any other scope is
    /// the caller's guess at a read-only field and is replaced by a new one. The generation part has no <c>-</c>, so a
    /// parent whose id extends this one (<c>{id}-x</c>) is never taken for this device.
    /// </summary>
    private string GivenOrNewEdgeScope(DeviceIdentityInput input, string generationId)
    {
        var given = input.DeviceScope;
        var prefixLength = EdgeScheme.Length + DeviceId.Length + 1;
        var ownForm = given is not null
            && given.Length > prefixLength
            && given.StartsWith(EdgeScheme, StringComparison.OrdinalIgnoreCase)
            && given.AsSpan(EdgeScheme.Length).StartsWith($"{DeviceId}-", StringComparison.Ordinal)
            && !given.AsSpan(prefixLength).Contains('-');
        return ownForm ? given! : EdgeScope(generationId);
    }

    /// <summary>A URI scheme is case-insensitive (RFC 3986); the id and generation after it are not, as ids are case-sensitive.</summary>
    private static bool IsSameScope(string scope, string edgeScope) =>
        scope.Length == edgeScope.Length
        && scope.StartsWith(EdgeScheme, StringComparison.OrdinalIgnoreCase)
        && scope.AsSpan(EdgeScheme.Length).SequenceEqual(edgeScope.AsSpan(EdgeScheme.Length));

    /// <summary>
    /// IoT Hub refuses a device as its own parent. Only the grain knows its own scope (a create checks the scope it
    /// keeps or mints itself); longer cycles would need a registry-wide look-up of scopes.
    /// </summary>
    private void EnsureNotOwnParent(DeviceIdentity current, DeviceIdentityInput input)
    {
        var ownScope = OwnEdgeScope(current);
        if (input.ParentScopes is { } parents && parents.Any(parent => IsSameScope(parent, ownScope)))
        {
            throw RegistryException.Invalid($"parentScopes names '{ownScope}', the device's own scope: a device cannot be its own parent.");
        }
    }

    /// <summary>
    /// An edge device keeps the scope it was given. One that stops being edge loses it: its own scope is what makes it
    /// a parent, so it goes with the capability (an SDK sends it back after reading the device); a leaf keeps or sets
    /// the scope of its parent.
    /// </summary>
    private string? ScopeAfterUpdate(DeviceIdentity current, DeviceIdentityInput input)
    {
        if ((input.Capabilities ?? current.Capabilities).IotEdge)
        {
            return current.Capabilities.IotEdge && current.DeviceScope is not null
                ? current.DeviceScope
                : GivenOrNewEdgeScope(input, current.GenerationId);
        }
        var scope = NoneIfEmpty(input.DeviceScope ?? current.DeviceScope);
        return string.Equals(scope, OwnEdgeScope(current), StringComparison.Ordinal) ? null : scope;
    }

    /// <summary>
    /// An empty scope names no parent: stored as none, so <c>""</c> clears a leaf device's scope where an absent one keeps
    /// it (a review saw <c>""</c> stored and listed as a scope, 2026-12-07).
    /// </summary>
    private static string? NoneIfEmpty(string? scope) => scope is "" ? null : scope;

    /// <summary>An edge device's scope is its own even when it was kept from an import rather than minted here.</summary>
    private string OwnEdgeScope(DeviceIdentity current) =>
        current.Capabilities.IotEdge && current.DeviceScope is not null ? current.DeviceScope : EdgeScope(current.GenerationId);
}
