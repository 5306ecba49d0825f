using Orleans.Core.Internal;
using Registry.Abstractions;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Presence;

/// <summary>
/// The device side of the device grain (Connect / Disconnect / Message / Heartbeat), on a real two-silo cluster with a
/// controlled clock; edges are real <see cref="IDeviceSessionObserver"/> references made by the cluster's client.
/// </summary>
public sealed class DevicePresenceTests(PresenceClusterFixture fixture) : IClassFixture<PresenceClusterFixture>
{
    [Fact]
    public async Task Connect_grants_and_shows_the_device_connected_with_its_last_activity_now()
    {
        var (id, primary, _) = await NewDeviceAsync();
        fixture.Clock.Advance(TimeSpan.FromSeconds(3));

        var access = await fixture.Device(id).Connect(Session(primary));

        Assert.Equal(DeviceAccess.Granted, access);
        var device = (await fixture.Device(id).Get())!;
        Assert.Equal(DeviceConnectionState.Connected, device.ConnectionState);
        Assert.Equal(fixture.Now, device.ConnectionStateUpdatedTime);
        Assert.Equal(fixture.Now, device.LastActivityTime);
    }

    [Fact]
    public async Task A_second_connect_replaces_the_first_and_the_first_sessions_edge_is_told_to_close_it()
    {
        var (id, primary, _) = await NewDeviceAsync();
        var (observer, edge) = NewEdge();
        var first = Session(primary, edge);
        var second = Session(primary, edge);
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Connect(first));
        var connectedAt = fixture.Now;
        fixture.Clock.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Connect(second));

        Assert.Equal((id, SessionCloseReason.Replaced), await observer.Closed(first.SessionId));
        Assert.False(observer.WasClosed(second.SessionId));
        var device = (await fixture.Device(id).Get())!;
        Assert.Equal(DeviceConnectionState.Connected, device.ConnectionState);
        Assert.Equal(connectedAt, device.ConnectionStateUpdatedTime); // still connected: no transition
        Assert.Equal(fixture.Now, device.LastActivityTime);
        GC.KeepAlive(observer);
    }

    [Fact]
    public async Task Disconnect_of_a_replaced_session_changes_nothing()
    {
        var (id, primary, _) = await NewDeviceAsync();
        var first = Session(primary);
        var second = Session(primary);
        await fixture.Device(id).Connect(first);
        await fixture.Device(id).Connect(second);
        var before = await fixture.Device(id).Get();
        fixture.Clock.Advance(TimeSpan.FromSeconds(2));

        await fixture.Device(id).Disconnect(first.SessionId);

        Assert.Equal(before, await fixture.Device(id).Get());
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Message(Mqtt(second, primary)));
    }

    [Fact]
    public async Task Disconnect_of_the_current_session_shows_the_device_disconnected_and_keeps_its_last_activity()
    {
        var (id, primary, _) = await NewDeviceAsync();
        var session = Session(primary);
        await fixture.Device(id).Connect(session);
        var activeAt = fixture.Now;
        fixture.Clock.Advance(TimeSpan.FromSeconds(4));

        await fixture.Device(id).Disconnect(session.SessionId);

        var device = (await fixture.Device(id).Get())!;
        Assert.Equal(DeviceConnectionState.Disconnected, device.ConnectionState);
        Assert.Equal(fixture.Now, device.ConnectionStateUpdatedTime);
        Assert.Equal(activeAt, device.LastActivityTime);
        Assert.Equal(DeviceAccess.SessionUnknown, await fixture.Device(id).Message(Mqtt(session, primary)));
    }

    [Fact]
    public async Task Message_on_a_replaced_session_answers_SessionReplaced_and_records_nothing()
    {
        var (id, primary, _) = await NewDeviceAsync();
        var first = Session(primary);
        await fixture.Device(id).Connect(first);
        await fixture.Device(id).Connect(Session(primary));
        var before = await fixture.Device(id).Get();
        fixture.Clock.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(DeviceAccess.SessionReplaced, await fixture.Device(id).Message(Mqtt(first, primary)));

        Assert.Equal(before, await fixture.Device(id).Get());
    }

    [Fact]
    public async Task An_https_message_updates_last_activity_but_not_the_connection_state()
    {
        var (id, primary, _) = await NewDeviceAsync();
        fixture.Clock.Advance(TimeSpan.FromSeconds(5));

        var access = await fixture.Device(id).Message(new DeviceMessage(DeviceTransport.Https, null, DeviceKeyFingerprint.Of(primary), 2));

        Assert.Equal(DeviceAccess.Granted, access);
        var device = (await fixture.Device(id).Get())!;
        Assert.Equal(DeviceConnectionState.Disconnected, device.ConnectionState);
        Assert.Equal(fixture.Now, device.LastActivityTime);
    }

    [Fact]
    public async Task A_message_signed_with_a_key_the_device_does_not_have_answers_KeyRevoked_and_records_nothing()
    {
        var (id, _, _) = await NewDeviceAsync();
        var before = await fixture.Device(id).Get();

        var access = await fixture.Device(id).Message(new DeviceMessage(DeviceTransport.Https, null, DeviceKeyFingerprint.Of(Key32), 1));

        Assert.Equal(DeviceAccess.KeyRevoked, access);
        Assert.Equal(before, await fixture.Device(id).Get());
    }

    [Fact]
    public async Task After_an_acknowledged_delete_connect_and_message_answer_NotRegistered_and_the_open_session_is_closed_as_Deleted()
    {
        var (id, primary, _) = await NewDeviceAsync();
        var (observer, edge) = NewEdge();
        var session = Session(primary, edge);
        await fixture.Device(id).Connect(session);

        await fixture.Device(id).Delete(ETagCondition.Any);

        Assert.Equal((id, SessionCloseReason.Deleted), await observer.Closed(session.SessionId));
        Assert.Equal(DeviceAccess.NotRegistered, await fixture.Device(id).Message(Mqtt(session, primary)));
        Assert.Equal(DeviceAccess.NotRegistered, await fixture.Device(id).Connect(Session(primary)));
        Assert.Equal(DeviceAccess.NotRegistered, await fixture.Device(id).Heartbeat());
        Assert.Null(await fixture.Device(id).Get());
        GC.KeepAlive(observer);
    }

    [Fact]
    public async Task Reattach_takes_a_session_only_when_none_is_held_records_no_activity_and_answers_the_refusals_connect_answers()
    {
        var (id, primary, _) = await NewDeviceAsync();
        var session = Session(primary);
        await fixture.Device(id).Connect(session);
        var connectedAt = fixture.Now;
        await fixture.Device(id).Cast<IGrainManagementExtension>().DeactivateOnIdle();
        fixture.Clock.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Reattach(session));
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Reattach(session)); // held now: nothing changes
        var device = (await fixture.Device(id).Get())!;
        Assert.Equal(DeviceConnectionState.Connected, device.ConnectionState);
        Assert.Equal(fixture.Now, device.ConnectionStateUpdatedTime);
        Assert.Equal(connectedAt, device.LastActivityTime);
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Message(Mqtt(session, primary)));
        Assert.Equal(DeviceAccess.SessionReplaced, await fixture.Device(id).Reattach(Session(primary)));
        Assert.Equal(DeviceAccess.KeyRevoked, await fixture.Device(id).Reattach(Session(Convert.ToBase64String(new byte[32]))));
        await fixture.Device(id).Update(Sas(id, DeviceStatus.Disabled), ETagCondition.Any);
        Assert.Equal(DeviceAccess.Disabled, await fixture.Device(id).Reattach(session));
        Assert.Equal(DeviceConnectionState.Disconnected, (await fixture.Device(id).Get())!.ConnectionState);
    }

    /// <summary>
    /// A fresh-clone run (2026-12-07): the edge's session refresh, out when the connection dropped, reached the grain after
    /// the session's Disconnect and showed the device Connected until the edge ended it again. A session the grain has
    /// ended is not taken back by a late Reattach.
    /// </summary>
    [Fact]
    public async Task A_reattach_arriving_after_its_sessions_disconnect_leaves_the_device_disconnected()
    {
        var (id, primary, _) = await NewDeviceAsync();
        var session = Session(primary);
        await fixture.Device(id).Connect(session);
        fixture.Clock.Advance(TimeSpan.FromSeconds(5));
        await fixture.Device(id).Disconnect(session.SessionId);
        var disconnected = (await fixture.Device(id).Get())!;
        fixture.Clock.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(DeviceAccess.SessionUnknown, await fixture.Device(id).Reattach(session));

        var device = (await fixture.Device(id).Get())!;
        Assert.Equal(DeviceConnectionState.Disconnected, device.ConnectionState);
        Assert.Equal(disconnected.ConnectionStateUpdatedTime, device.ConnectionStateUpdatedTime);
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Connect(Session(primary)));
    }

    [Fact]
    public async Task After_an_acknowledged_disable_connect_and_message_answer_Disabled_and_the_open_session_is_closed_as_Disabled()
    {
        var (id, primary, _) = await NewDeviceAsync();
        var (observer, edge) = NewEdge();
        var session = Session(primary, edge);
        await fixture.Device(id).Connect(session);
        fixture.Clock.Advance(TimeSpan.FromSeconds(1));

        await fixture.Device(id).Update(Sas(id, DeviceStatus.Disabled), ETagCondition.Any);

        Assert.Equal((id, SessionCloseReason.Disabled), await observer.Closed(session.SessionId));
        Assert.Equal(DeviceAccess.Disabled, await fixture.Device(id).Message(Mqtt(session, primary)));
        Assert.Equal(DeviceAccess.Disabled, await fixture.Device(id).Connect(Session(primary)));
        Assert.Equal(DeviceAccess.Disabled, await fixture.Device(id).Heartbeat());
        var device = (await fixture.Device(id).Get())!;
        Assert.Equal(DeviceConnectionState.Disconnected, device.ConnectionState);
        Assert.Equal(fixture.Now, device.ConnectionStateUpdatedTime);
        GC.KeepAlive(observer);
    }

    [Fact]
    public async Task After_an_acknowledged_change_of_the_sessions_key_connect_and_message_answer_KeyRevoked_and_the_session_is_closed_as_KeyRevoked()
    {
        var (id, primary, secondary) = await NewDeviceAsync();
        var (observer, edge) = NewEdge();
        var session = Session(primary, edge);
        await fixture.Device(id).Connect(session);

        await fixture.Device(id).Update(WithKeys(id, Key32, secondary), ETagCondition.Any);

        Assert.Equal((id, SessionCloseReason.KeyRevoked), await observer.Closed(session.SessionId));
        Assert.Equal(DeviceAccess.KeyRevoked, await fixture.Device(id).Message(Mqtt(session, primary)));
        Assert.Equal(DeviceAccess.KeyRevoked, await fixture.Device(id).Connect(Session(primary)));
        Assert.Equal(DeviceConnectionState.Disconnected, (await fixture.Device(id).Get())!.ConnectionState);
        // The keys the device now has still act.
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Connect(Session(Key32)));
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Connect(Session(secondary)));
        GC.KeepAlive(observer);
    }

    [Fact]
    public async Task Rotating_only_the_secondary_key_keeps_a_session_signed_with_the_primary_open()
    {
        var (id, primary, _) = await NewDeviceAsync();
        var (observer, edge) = NewEdge();
        var session = Session(primary, edge);
        await fixture.Device(id).Connect(session);

        await fixture.Device(id).Update(WithKeys(id, primary, Key32), ETagCondition.Any);

        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Message(Mqtt(session, primary)));
        Assert.Equal(DeviceConnectionState.Connected, (await fixture.Device(id).Get())!.ConnectionState);
        Assert.False(observer.WasClosed(session.SessionId));
        GC.KeepAlive(observer);
    }

    [Fact]
    public async Task Connects_messages_and_heartbeats_never_change_the_etag()
    {
        var (id, primary, _) = await NewDeviceAsync();
        var etag = (await fixture.Device(id).Get())!.ETag;
        var session = Session(primary);

        await fixture.Device(id).Connect(session);
        fixture.Clock.Advance(TimeSpan.FromSeconds(1));
        await fixture.Device(id).Message(Mqtt(session, primary));
        await fixture.Device(id).Message(new DeviceMessage(DeviceTransport.Mqtt, session.SessionId, DeviceKeyFingerprint.Of(primary), 0));
        await fixture.Device(id).Message(new DeviceMessage(DeviceTransport.Https, null, DeviceKeyFingerprint.Of(primary), 3));
        await fixture.Device(id).Heartbeat();
        await fixture.Grains.GetGrain<IHeartbeatBatchGrain>(0).Heartbeat([id]);
        await fixture.Device(id).Disconnect(session.SessionId);

        var device = (await fixture.Device(id).Get())!;
        Assert.Equal(etag, device.ETag);
        Assert.Equal(fixture.Now, device.LastActivityTime);
    }

    [Fact]
    public async Task A_recreated_device_starts_without_the_activity_of_the_deleted_one()
    {
        var (id, primary, _) = await NewDeviceAsync();
        await fixture.Device(id).Connect(Session(primary));
        await fixture.Device(id).Delete(ETagCondition.Any);

        var recreated = await fixture.Device(id).Create(Sas(id));

        Assert.Equal(DeviceConnectionState.Disconnected, recreated.ConnectionState);
        Assert.Equal(default, recreated.ConnectionStateUpdatedTime);
        Assert.Equal(default, recreated.LastActivityTime);
        Assert.Equal(recreated, await fixture.Device(id).Get());
    }

    [Fact]
    public async Task A_heartbeat_batch_answers_per_id_in_order()
    {
        var (enabled, _, _) = await NewDeviceAsync();
        var disabled = NewId("hb-off");
        await fixture.Device(disabled).Create(Sas(disabled, DeviceStatus.Disabled));
        var missing = NewId("hb-none");
        fixture.Clock.Advance(TimeSpan.FromSeconds(1));

        var answers = await fixture.Grains.GetGrain<IHeartbeatBatchGrain>(0).Heartbeat([missing, enabled, disabled, enabled, "not a valid id!"]);

        Assert.Equal([DeviceAccess.NotRegistered, DeviceAccess.Granted, DeviceAccess.Disabled, DeviceAccess.Granted, DeviceAccess.NotRegistered], answers);
        Assert.Equal(fixture.Now, (await fixture.Device(enabled).Get())!.LastActivityTime);
        Assert.Equal(default, (await fixture.Device(disabled).Get())!.LastActivityTime);
    }

    /// <summary>
    /// Hostile review, 2026-12-07: a blank or null id threw Orleans' key error for the whole batch (no answer for any id)
    /// after the ids before it had beaten, and those after it had not.
    /// </summary>
    [Fact]
    public async Task A_heartbeat_batch_answers_NotRegistered_for_a_blank_or_null_id_and_beats_every_other_one()
    {
        var (before, _, _) = await NewDeviceAsync();
        var (after, _, _) = await NewDeviceAsync();
        fixture.Clock.Advance(TimeSpan.FromSeconds(1));

        var answers = await fixture.Grains.GetGrain<IHeartbeatBatchGrain>(0).Heartbeat([before, "", " ", null!, after]);

        Assert.Equal([DeviceAccess.Granted, DeviceAccess.NotRegistered, DeviceAccess.NotRegistered, DeviceAccess.NotRegistered, DeviceAccess.Granted], answers);
        Assert.Equal(fixture.Now, (await fixture.Device(before).Get())!.LastActivityTime);
        Assert.Equal(fixture.Now, (await fixture.Device(after).Get())!.LastActivityTime);
    }

    [Fact]
    public async Task A_heartbeat_batch_without_a_list_is_refused_with_ArgumentInvalid()
    {
        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Grains.GetGrain<IHeartbeatBatchGrain>(0).Heartbeat(null!));

        Assert.Equal(RegistryErrorCode.ArgumentInvalid, error.Code);
    }

    [Fact]
    public async Task A_heartbeat_batch_of_more_than_1000_ids_is_refused_with_ArgumentInvalid_and_records_nothing()
    {
        var (id, _, _) = await NewDeviceAsync();
        var ids = Enumerable.Repeat(id, RegistryLimits.MaxHeartbeatBatch + 1).ToArray();

        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Grains.GetGrain<IHeartbeatBatchGrain>(0).Heartbeat(ids));

        Assert.Equal(RegistryErrorCode.ArgumentInvalid, error.Code);
        Assert.Equal(default, (await fixture.Device(id).Get())!.LastActivityTime);
        Assert.Equal(RegistryLimits.MaxHeartbeatBatch, (await fixture.Grains.GetGrain<IHeartbeatBatchGrain>(0).Heartbeat(ids[1..])).Length);
    }

    [Fact]
    public async Task A_reference_from_GrainReferences_is_the_one_GetGrain_returns_and_beats_the_same_device()
    {
        var (id, _, _) = await NewDeviceAsync();
        var usual = fixture.Grains.GetGrain<IDeviceGrain>(id);

        var cached = GrainReferences<IDeviceGrain>.Get(fixture.Grains, id);

        Assert.Equal(usual.GetGrainId(), cached.GetGrainId());
        Assert.Equal(((GrainReference)usual).InterfaceType, ((GrainReference)cached).InterfaceType);
        Assert.Equal(usual.GetType(), cached.GetType());
        Assert.Equal(usual, cached);
        fixture.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(DeviceAccess.Granted, await cached.Heartbeat());
        Assert.Equal(fixture.Now, (await usual.Get())!.LastActivityTime);
        Assert.Equal(DeviceAccess.NotRegistered, await GrainReferences<IDeviceGrain>.Get(fixture.Grains, NewId("never")).Heartbeat());
        Assert.Throws<ArgumentException>(() => GrainReferences<IDeviceGrain>.Get(fixture.Grains, " "));
    }

    private async Task<(string Id, string Primary, string Secondary)> NewDeviceAsync()
    {
        var id = NewId("presence");
        var created = await fixture.Device(id).Create(Sas(id));
        var keys = created.Authentication.SymmetricKey!;
        return (id, keys.PrimaryKey!, keys.SecondaryKey!);
    }

    private (SessionObserver Observer, IDeviceSessionObserver Reference) NewEdge()
    {
        var observer = new SessionObserver();
        return (observer, fixture.Cluster.Client.CreateObjectReference<IDeviceSessionObserver>(observer));
    }

    private static DeviceSession Session(string key, IDeviceSessionObserver? edge = null) =>
        new(Guid.NewGuid(), edge, DeviceKeyFingerprint.Of(key));

    private static DeviceMessage Mqtt(DeviceSession session, string key) =>
        new(DeviceTransport.Mqtt, session.SessionId, DeviceKeyFingerprint.Of(key), 1);
}
