using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Registry.Abstractions;

namespace Registry.Grains.Devices;

/// <summary>
/// The source of truth for one device. Keeps the index protocol (add to the index partition before the
/// device is written, remove after it is deleted) so the index is always a superset of the registry.
/// </summary>
public sealed partial class DeviceGrain(
    [PersistentState("device", StorageNames.Registry)] IPersistentState<DeviceState> state,
    IOptions<RegistryIndexOptions> indexOptions,
    TimeProvider clock,
    ILogger<DeviceGrain> logger) : Grain, IDeviceGrain
{
    private IGrainTimer? _indexRepair;

    private string DeviceId => this.GetPrimaryKeyString();

    private IDeviceIndexGrain Index =>
        GrainFactory.GetGrain<IDeviceIndexGrain>(DevicePartitioner.PartitionOf(DeviceId, indexOptions.Value.Partitions));

    public Task<DeviceIdentity?> Get() => Task.FromResult(state.State.Identity);

    public async Task<DeviceIdentity> Create(DeviceIdentityInput input)
    {
        var auth = Validate(input);
        if (state.State.Identity is not null)
        {
            throw RegistryException.DeviceAlreadyExists(DeviceId);
        }
        return await CreateCore(input, auth);
    }

    public async Task<DeviceIdentity> Update(DeviceIdentityInput input, ETagCondition condition)
    {
        var auth = Validate(input);
        var current = state.State.Identity ?? throw RegistryException.DeviceNotFound(DeviceId);
        return await UpdateCore(current, input, auth, condition);
    }

    public async Task<DeviceIdentity> CreateOrUpdate(DeviceIdentityInput input, ETagCondition condition)
    {
        var auth = Validate(input);
        return state.State.Identity is { } current
            ? await UpdateCore(current, input, auth, condition)
            : await CreateCore(input, auth);
    }

    public async Task Delete(ETagCondition condition)
    {
        var current = state.State.Identity ?? throw RegistryException.DeviceNotFound(DeviceId);
        if (!condition.Matches(current.ETag))
        {
            throw RegistryException.PreconditionFailed(DeviceId);
        }

        state.State.Identity = null;
        await Persist(() => state.ClearStateAsync(), previous: current);

        // The device is gone and the delete succeeded. If its index entry cannot be dropped now, a timer keeps
        // trying (and keeps this activation alive) so statistics stop counting it after a bounded delay.
        try
        {
            await Index.Remove([DeviceId]);
        }
        catch (Exception ex)
        {
            LogIndexRepairScheduled(logger, ex, DeviceId);
            ScheduleIndexRepair();
        }
    }

    public async Task<DeviceIdentity?> ReadForIndex(bool indexedAsEnabled)
    {
        var identity = state.State.Identity;
        if (identity is null || IsEnabled(identity) != indexedAsEnabled)
        {
            // A reader is never failed by a repair: a failed one is retried by the timer.
            try
            {
                await SyncIndex();
            }
            catch (Exception ex)
            {
                LogIndexRepairScheduled(logger, ex, DeviceId);
                ScheduleIndexRepair();
            }
        }
        return identity;
    }

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
        var now = clock.GetUtcNow().UtcDateTime;
        var generationId = Credentials.NewGenerationId(now);
        var capabilities = input.Capabilities ?? new DeviceCapabilities(false);
        var identity = new DeviceIdentity
        {
            DeviceId = DeviceId,
            GenerationId = generationId,
            ETag = Credentials.NewETag(),
            Status = input.Status,
            StatusReason = input.StatusReason,
            StatusUpdatedTime = now,
            Authentication = WithGeneratedKeys(auth, previous: null),
            Capabilities = capabilities,
            DeviceScope = capabilities.IotEdge ? EdgeScope(generationId) : input.DeviceScope,
            ParentScopes = input.ParentScopes?.ToArray() ?? [],
        };

        // Index first: if we die after this line the index holds a phantom, never a missing device.
        await Index.Upsert([new IndexEntry(DeviceId, IsEnabled(identity))]);
        state.State.Identity = identity;
        await Persist(() => state.WriteStateAsync(), previous: null);
        return identity;
    }

    private async Task<DeviceIdentity> UpdateCore(
        DeviceIdentity current, DeviceIdentityInput input, AuthenticationMechanism auth, ETagCondition condition)
    {
        if (!condition.Matches(current.ETag))
        {
            throw RegistryException.PreconditionFailed(DeviceId);
        }

        var statusChanged = current.Status != input.Status;
        var updated = current with
        {
            ETag = Credentials.NewETag(),
            Status = input.Status,
            StatusReason = input.StatusReason,
            StatusUpdatedTime = statusChanged ? clock.GetUtcNow().UtcDateTime : current.StatusUpdatedTime,
            // No authentication in the body keeps the device's credentials, whatever their kind.
            Authentication = input.Authentication is null ? current.Authentication : WithGeneratedKeys(auth, previous: current.Authentication),
            Capabilities = input.Capabilities ?? current.Capabilities,
            DeviceScope = ScopeAfterUpdate(current, input),
            ParentScopes = input.ParentScopes?.ToArray() ?? current.ParentScopes,
        };

        if (statusChanged)
        {
            // Statistics count by status: flag the index before the write, like a create.
            await Index.Upsert([new IndexEntry(DeviceId, IsEnabled(updated))]);
        }
        state.State.Identity = updated;
        await Persist(() => state.WriteStateAsync(), previous: current);
        return updated;
    }

    /// <summary>
    /// Runs a storage write. On failure the caller gets the error, and the grain re-reads what storage really holds
    /// (the write may have landed even though it threw) and makes the index entry agree with it: a create that did
    /// not land leaves no phantom, a status change that did not land leaves no wrong count. When storage cannot even
    /// be read, the activation goes, so the next call starts from storage, and a timer repairs the index meanwhile.
    /// </summary>
    private async Task Persist(Func<Task> write, DeviceIdentity? previous)
    {
        try
        {
            await write();
        }
        catch
        {
            state.State.Identity = previous;
            await ReconcileAfterFailedWrite();
            throw;
        }
    }

    private async Task ReconcileAfterFailedWrite()
    {
        try
        {
            await state.ReadStateAsync();
            await SyncIndex();
        }
        catch (Exception ex)
        {
            LogReconcileFailed(logger, ex, DeviceId);
            DeactivateOnIdle();
        }
    }

    /// <summary>Makes this device's index entry say what its state says: present with its status, or absent.</summary>
    private Task SyncIndex() => state.State.Identity is { } identity
        ? Index.Upsert([new IndexEntry(DeviceId, IsEnabled(identity))])
        : Index.Remove([DeviceId]);

    private void ScheduleIndexRepair()
    {
        _indexRepair ??= this.RegisterGrainTimer(async () =>
        {
            try
            {
                await SyncIndex();
                _indexRepair?.Dispose();
                _indexRepair = null;
            }
            catch (Exception ex)
            {
                LogIndexRepairScheduled(logger, ex, DeviceId);
            }
        }, new GrainTimerCreationOptions { DueTime = indexOptions.Value.RepairInterval, Period = indexOptions.Value.RepairInterval, KeepAlive = true });
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

    /// <summary>An edge device's scope is the registry's to mint, once, as IoT Hub does; callers cannot set it.</summary>
    private string EdgeScope(string generationId) => $"ms-azure-iot-edge://{DeviceId}-{generationId}";

    private string? ScopeAfterUpdate(DeviceIdentity current, DeviceIdentityInput input)
    {
        if (current.Capabilities.IotEdge && current.DeviceScope is not null)
        {
            return current.DeviceScope;
        }
        return input.Capabilities?.IotEdge == true ? EdgeScope(current.GenerationId) : input.DeviceScope ?? current.DeviceScope;
    }

    private static bool IsEnabled(DeviceIdentity identity) => identity.Status == DeviceStatus.Enabled;

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "The index entry of device {DeviceId} could not be brought in line with its state; retrying on a timer")]
    private static partial void LogIndexRepairScheduled(ILogger logger, Exception ex, string deviceId);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "After a failed write, device {DeviceId} could not re-read its state; the activation is dropped so the next call starts from storage")]
    private static partial void LogReconcileFailed(ILogger logger, Exception ex, string deviceId);
}
