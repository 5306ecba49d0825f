using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using Registry.Abstractions;
using Registry.Gateway.Mqtt;
using Registry.Gateway.Security;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Mqtt;

/// <summary>
/// CONNECT as IoT Hub answers it (docs/wire-contract.md §9.2): CONNACK 0 for a device's own SAS token, 5 for anything
/// that may not act as that device, and a refused CONNECT changes nothing on the device.
/// </summary>
public sealed class MqttConnectTests(MqttRegistryFixture fixture) : IClassFixture<MqttRegistryFixture>
{
    private RegistryTestHost Host => fixture.Host;

    private MqttDeviceEdge Edge => Host.Services.GetRequiredService<MqttDeviceEdge>();

    [Fact(Timeout = 60_000)]
    public async Task A_device_with_its_own_token_connects_with_connack_0_shows_connected_and_disconnected_after_it_leaves()
    {
        var (id, key) = await fixture.NewDeviceAsync("conn");
        var ended = SessionEnded(id);

        var client = await MqttDevices.ConnectedAsync(Host, fixture.Clock, id, key);
        var connected = await fixture.GetDeviceAsync(id);
        await client.DisconnectAsync();
        await ended.WaitAsync(TestContext.Current.CancellationToken);
        var disconnected = await fixture.GetDeviceAsync(id);

        Assert.Equal("Connected", (string)connected["connectionState"]!);
        Assert.Equal(Iso(fixture.Clock.GetUtcNow()), (string)connected["lastActivityTime"]!);
        Assert.Equal("Disconnected", (string)disconnected["connectionState"]!);
    }

    [Fact]
    public async Task A_token_signed_with_another_key_gets_connack_5_and_changes_nothing()
    {
        var (id, _) = await fixture.NewDeviceAsync("badkey");
        var before = await fixture.GetDeviceAsync(id);

        var code = await ConnectCodeAsync(id, fixture.DeviceToken(id, Convert.ToBase64String(new byte[32])));

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, code);
        AssertSameJson(before, await fixture.GetDeviceAsync(id));
    }

    [Fact]
    public async Task An_expired_token_gets_connack_5()
    {
        var (id, key) = await fixture.NewDeviceAsync("expired");
        var token = Registry.Gateway.Security.SharedAccessSignature.Create($"{Host.HostName}/devices/{id}", key, null, fixture.Clock.GetUtcNow().AddMinutes(-10));

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectCodeAsync(id, token));
    }

    [Fact]
    public async Task An_unknown_device_gets_connack_5()
    {
        var id = "never-created-" + Guid.NewGuid().ToString("N")[..8];

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectCodeAsync(id, fixture.DeviceToken(id, Convert.ToBase64String(new byte[32]))));
    }

    [Fact]
    public async Task A_disabled_device_gets_connack_5_and_stays_disconnected()
    {
        var (id, key) = await fixture.NewDeviceAsync("disabled");
        var device = await fixture.GetDeviceAsync(id);
        device["status"] = "disabled";
        using (var put = await fixture.Owner.PutDeviceAsync(id, device.ToJsonString(), "\"*\""))
        {
            await put.ReadDeviceAsync(System.Net.HttpStatusCode.OK);
        }

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectCodeAsync(id, fixture.DeviceToken(id, key)));
        Assert.Equal("Disconnected", (string)(await fixture.GetDeviceAsync(id))["connectionState"]!);
    }

    [Fact]
    public async Task A_client_id_that_is_not_the_device_id_gets_connack_5()
    {
        var (id, key) = await fixture.NewDeviceAsync("clientid");
        var (other, _) = await fixture.NewDeviceAsync("other");

        var (client, result) = await MqttDevices.ConnectAsync(MqttDevices.Options(Host, id, fixture.DeviceToken(id, key), clientId: other));

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, result.ResultCode);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task A_module_client_id_gets_connack_5_because_the_registry_has_no_modules()
    {
        var (id, key) = await fixture.NewDeviceAsync("module");
        var module = $"{id}/mod1";

        var (_, result) = await MqttDevices.ConnectAsync(MqttDevices.Options(Host, id, fixture.DeviceToken(id, key), clientId: module, userName: $"{Host.HostName}/{module}/?{MqttDevices.ApiVersion}"));

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, result.ResultCode);
    }

    [Fact]
    public async Task A_username_naming_another_host_or_device_gets_connack_5()
    {
        var (id, key) = await fixture.NewDeviceAsync("user");

        var (_, otherHost) = await MqttDevices.ConnectAsync(MqttDevices.Options(Host, id, fixture.DeviceToken(id, key), userName: $"elsewhere/{id}/?{MqttDevices.ApiVersion}"));
        var (_, otherDevice) = await MqttDevices.ConnectAsync(MqttDevices.Options(Host, id, fixture.DeviceToken(id, key), userName: $"{Host.HostName}/{id}x/?{MqttDevices.ApiVersion}"));

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, otherHost.ResultCode);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, otherDevice.ResultCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_second_connection_of_the_same_device_replaces_the_first_which_is_closed_and_the_second_keeps_serving()
    {
        var (id, key) = await fixture.NewDeviceAsync("replace");

        var second = await ReplaceAsync(id, key, TestContext.Current.CancellationToken);

        Assert.Equal("Connected", (string)(await fixture.GetDeviceAsync(id))["connectionState"]!);
        await second.DisconnectAsync();
    }

    /// <summary>Connects the device twice: the first connection is closed, the second answers a QoS 1 publish.</summary>
    private async Task<IMqttClient> ReplaceAsync(string id, string key, CancellationToken cancel)
    {
        var first = await MqttDevices.ConnectedAsync(Host, fixture.Clock, id, key);
        var firstClosed = MqttDevices.Disconnected(first);

        var second = await MqttDevices.ConnectedAsync(Host, fixture.Clock, id, key);
        await firstClosed.WaitAsync(cancel);
        var ack = await second.PublishStringAsync($"devices/{id}/messages/events/", "{}", MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: cancel);

        Assert.True(ack.IsSuccess);
        Assert.True(second.IsConnected);
        return second;
    }

    [Fact(Timeout = 60_000)]
    public async Task A_second_connection_on_the_same_edge_leaves_the_first_to_mqttnets_takeover_instead_of_closing_it_itself()
    {
        // Closing it here too raced the takeover: when the older connection ended before MQTTnet marked it taken over,
        // its end removed the newer connection's client and session from MQTTnet, and the newer one's next publish
        // met a closed connection (seen once in a full run of the test above).
        var (id, key) = await fixture.NewDeviceAsync("takeover");
        var aborted = new List<Registry.Abstractions.SessionCloseReason>();
        Edge.SessionAborted += (deviceId, reason) =>
        {
            if (deviceId == id)
            {
                lock (aborted)
                {
                    aborted.Add(reason);
                }
            }
        };
        // The grain's order to close the first session reaches the edge before the second session is registered here:
        // the order in which that race was lost.
        var closeOrdered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Edge.CloseOrdered += deviceId =>
        {
            if (deviceId == id)
            {
                closeOrdered.TrySetResult();
            }
        };
        var connects = 0;
        Edge.RegisteringSession = deviceId => deviceId == id && Interlocked.Increment(ref connects) == 2 ? closeOrdered.Task : Task.CompletedTask;
        try
        {
            await (await ReplaceAsync(id, key, TestContext.Current.CancellationToken)).DisconnectAsync();
        }
        finally
        {
            Edge.RegisteringSession = null;
        }
        lock (aborted)
        {
            Assert.Empty(aborted);
        }
    }

    /// <summary>
    /// Hostile review, 2026-12-07: CONNECTs of one device racing each other could be granted by the device grain in one
    /// order (A, then B) and registered at the edge in the other, MQTTnet then keeping A while the grain held B, whose
    /// takeover ended it there: a connection no grain knew, still open 28 s after its device's delete was acknowledged.
    /// Here the first CONNECT the grain grants is held before it registers until the second has connected (the order the
    /// race was lost in) or is waiting its turn; either way the connection left open is the grain's, shows Connected, and
    /// the delete closes it.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task Racing_connects_of_one_device_leave_open_only_the_connection_its_grain_holds_and_a_delete_closes_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var (id, key) = await fixture.NewDeviceAsync("racing");
        var oneConnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondWaits = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Queued(string deviceId)
        {
            if (deviceId == id)
            {
                secondWaits.TrySetResult();
            }
        }
        Edge.AdmissionQueued += Queued;
        var granted = 0;
        Edge.RegisteringSession = deviceId => deviceId == id && Interlocked.Increment(ref granted) == 1
            ? Task.WhenAny(oneConnected.Task, secondWaits.Task)
            : Task.CompletedTask;
        IMqttClient[] clients;
        try
        {
            clients = await Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
            {
                var client = await MqttDevices.ConnectedAsync(Host, fixture.Clock, id, key);
                oneConnected.TrySetResult();
                return client;
            }));
        }
        finally
        {
            Edge.RegisteringSession = null;
            Edge.AdmissionQueued -= Queued;
        }
        // One of the two was taken over; the other is the device's connection.
        await Task.WhenAny(clients.Select(MqttDevices.Disconnected)).WaitAsync(ct);
        var open = Assert.Single(clients, c => c.IsConnected);
        Assert.Equal("Connected", (string)(await fixture.GetDeviceAsync(id))["connectionState"]!);

        using (var delete = await fixture.Owner.DeleteDeviceAsync(id, "\"*\""))
        {
            Assert.Equal(System.Net.HttpStatusCode.NoContent, delete.StatusCode);
        }

        await MqttDevices.Disconnected(open).WaitAsync(ct);
        Assert.All(clients, c => Assert.False(c.IsConnected));
    }

    /// <summary>
    /// Hostile review, 2026-12-07: MQTTnet publishes a dropped connection's will message on the device's behalf, and the
    /// edge counted it as the device's message: a device that had just died was announced recovered, its deadline
    /// restarted from its death, and its lastActivityTime moved to the drop.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_dropped_connections_will_message_is_neither_a_heartbeat_nor_activity()
    {
        var ct = TestContext.Current.CancellationToken;
        var (id, key) = await fixture.NewDeviceAsync("will");
        var willIgnored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Ignored(string deviceId)
        {
            if (deviceId == id)
            {
                willIgnored.TrySetResult();
            }
        }
        Edge.WillIgnored += Ignored;
        var ended = SessionEnded(id);
        try
        {
            var options = MqttDevices.Options(Host, id, fixture.DeviceToken(id, key));
            options.WillTopic = $"devices/{id}/messages/events/";
            options.WillPayload = "{\"gone\":true}"u8.ToArray();
            options.WillQualityOfServiceLevel = MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce;
            var (client, connected) = await MqttDevices.ConnectAsync(options);
            Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
            var connectedAt = Iso(fixture.Clock.GetUtcNow());
            fixture.Clock.Advance(TimeSpan.FromMinutes(1));

            client.Dispose(); // the connection drops without a DISCONNECT: MQTTnet publishes the will
            await willIgnored.Task.WaitAsync(ct);
            await ended.WaitAsync(ct);

            var device = await fixture.GetDeviceAsync(id);
            Assert.Equal(connectedAt, (string)device["lastActivityTime"]!);
            Assert.Equal("Disconnected", (string)device["connectionState"]!);
        }
        finally
        {
            Edge.WillIgnored -= Ignored;
        }
    }

    [Fact]
    public async Task Connections_beyond_the_DeviceConnections_throttle_get_connack_3_which_the_sdks_retry()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (host, key) = await MqttRegistryFixture.StartOneAMinuteAsync(clock, "DeviceConnections", "throttled");
        await using var _ = host;
        var options = MqttDevices.Options(host, "throttled", MqttDevices.Token(host, clock, "throttled", key));

        var (first, admitted) = await MqttDevices.ConnectAsync(options);
        await first.DisconnectAsync();
        var (_, throttled) = await MqttDevices.ConnectAsync(options);

        Assert.Equal(MqttClientConnectResultCode.Success, admitted.ResultCode);
        Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, throttled.ResultCode);
    }

    /// <summary>
    /// Hostile review, 2026-12-05: CONNECTs refused by authentication (an unregistered id, a wrong password) spent the
    /// hub-wide DeviceConnections budget, so anyone reaching the port kept every device from connecting (CONNACK 3), and
    /// once it was spent a wrong password got 3 instead of 5. HTTPS never counts what authentication refuses.
    /// </summary>
    [Fact]
    public async Task Connects_refused_by_authentication_spend_no_DeviceConnections_budget()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (host, key) = await MqttRegistryFixture.StartOneAMinuteAsync(clock, "DeviceConnections", "budgeted");
        await using var _ = host;
        var token = MqttDevices.Token(host, clock, "budgeted", key);

        var (_, ghost) = await MqttDevices.ConnectAsync(MqttDevices.Options(host, "ghost", MqttDevices.Token(host, clock, "ghost", key)));
        var (_, wrong) = await MqttDevices.ConnectAsync(MqttDevices.Options(host, "budgeted", token + "x"));
        var (first, admitted) = await MqttDevices.ConnectAsync(MqttDevices.Options(host, "budgeted", token));
        await first.DisconnectAsync();
        var (_, wrongOnceSpent) = await MqttDevices.ConnectAsync(MqttDevices.Options(host, "budgeted", token + "x"));
        var (_, throttled) = await MqttDevices.ConnectAsync(MqttDevices.Options(host, "budgeted", token));

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, ghost.ResultCode);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, wrong.ResultCode);
        Assert.Equal(MqttClientConnectResultCode.Success, admitted.ResultCode);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, wrongOnceSpent.ResultCode);
        Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, throttled.ResultCode);
    }

    /// <summary>
    /// Hostile review, 2026-12-05: an MQTT session connected with a policy's token (<c>skn=device</c>) stayed open, its
    /// publishes acknowledged and counted, after that policy's key was regenerated, while HTTPS refused the same token.
    /// The refresh replaces the policies as here; sessions of other policies and of device keys stay.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_session_connected_with_a_policy_token_is_closed_when_that_policy_s_key_is_regenerated_and_others_stay()
    {
        var cancellation = TestContext.Current.CancellationToken;
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await MqttRegistryFixture.StartHostAsync(clock);
        var edge = host.Services.GetRequiredService<MqttDeviceEdge>();
        using var owner = host.CreateClient();
        await owner.CreateDeviceAsync("by-device-policy");
        await owner.CreateDeviceAsync("by-owner-policy");
        var key = (string)(await owner.CreateDeviceAsync("by-own-key"))["authentication"]!["symmetricKey"]!["primaryKey"]!;
        var device = host.Policy("device");
        string PolicyToken(SharedAccessPolicy policy) =>
            SharedAccessSignature.Create(host.HostName, policy.PrimaryKey, policy.KeyName, clock.GetUtcNow().AddHours(1));
        var (_, byDevicePolicy) = await MqttDevices.ConnectAsync(MqttDevices.Options(host, "by-device-policy", PolicyToken(device)));
        var (byOwnerPolicy, byOwner) = await MqttDevices.ConnectAsync(MqttDevices.Options(host, "by-owner-policy", PolicyToken(host.Policy(SharedAccessPolicy.OwnerKeyName))));
        var (byOwnKey, byKey) = await MqttDevices.ConnectAsync(MqttDevices.Options(host, "by-own-key", MqttDevices.Token(host, clock, "by-own-key", key)));
        Assert.All([byDevicePolicy, byOwner, byKey], r => Assert.Equal(MqttClientConnectResultCode.Success, r.ResultCode));
        var aborted = new System.Collections.Concurrent.ConcurrentQueue<(string DeviceId, SessionCloseReason Reason)>();
        edge.SessionAborted += (id, reason) => aborted.Enqueue((id, reason));
        var rechecked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        edge.PolicySessionsRechecked += () => rechecked.TrySetResult();

        host.Policies.Replace([.. host.Policies.All.Where(p => p.KeyName != "device"), SharedAccessPolicy.Generate("device", device.Rights)]);
        await rechecked.Task.WaitAsync(cancellation);

        Assert.Equal([("by-device-policy", SessionCloseReason.PolicyRevoked)], aborted);
        Assert.True(byOwnerPolicy.IsConnected);
        Assert.True(byOwnKey.IsConnected);
    }

    private async Task<MqttClientConnectResultCode> ConnectCodeAsync(string id, string password)
    {
        var (client, result) = await MqttDevices.ConnectAsync(MqttDevices.Options(Host, id, password));
        Assert.False(client.IsConnected);
        return result.ResultCode;
    }

    private Task SessionEnded(string id)
    {
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Edge.SessionEnded += deviceId =>
        {
            if (deviceId == id)
            {
                ended.TrySetResult();
            }
        };
        return ended.Task;
    }

    private static string Iso(DateTimeOffset time) => MqttTelemetryTests.Iso(time);
}
