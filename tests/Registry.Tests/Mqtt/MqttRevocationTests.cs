using System.Net;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using Orleans.Core.Internal;
using Registry.Abstractions;
using Registry.Gateway.Mqtt;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Mqtt;

/// <summary>
/// Once a disable, delete or re-key is acknowledged over REST, the device grain tells this process's session
/// observer and the open MQTT connection is closed; a reconnect with the same credentials gets CONNACK 5.
/// </summary>
public sealed class MqttRevocationTests(MqttRegistryFixture fixture) : IClassFixture<MqttRegistryFixture>
{
    private RegistryTestHost Host => fixture.Host;

    [Fact(Timeout = 60_000)]
    public async Task Disabling_a_connected_device_closes_its_connection_and_a_reconnect_gets_connack_5()
    {
        var (id, key) = await fixture.NewDeviceAsync("rev-disable");
        var client = await MqttDevices.ConnectedAsync(Host, fixture.Clock, id, key);
        var closed = MqttDevices.Disconnected(client);

        var device = await fixture.GetDeviceAsync(id);
        device["status"] = "disabled";
        await PutAndAssertClosedAndRefusedAsync(id, key, device, closed, TestContext.Current.CancellationToken);
        Assert.Equal("Disconnected", await ConnectionStateAsync(id));
    }

    [Fact(Timeout = 60_000)]
    public async Task Deleting_a_connected_device_closes_its_connection_and_a_reconnect_gets_connack_5()
    {
        var (id, key) = await fixture.NewDeviceAsync("rev-delete");
        var client = await MqttDevices.ConnectedAsync(Host, fixture.Clock, id, key);
        var closed = MqttDevices.Disconnected(client);

        using (var delete = await fixture.Owner.DeleteDeviceAsync(id, "\"*\""))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }
        await closed.WaitAsync(TestContext.Current.CancellationToken);

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ReconnectAsync(id, key));
    }

    [Fact(Timeout = 60_000)]
    public async Task Re_keying_a_connected_device_closes_its_connection_and_a_reconnect_with_the_old_key_gets_connack_5()
    {
        var (id, key) = await fixture.NewDeviceAsync("rev-rekey");
        var client = await MqttDevices.ConnectedAsync(Host, fixture.Clock, id, key);
        var closed = MqttDevices.Disconnected(client);

        var device = await fixture.GetDeviceAsync(id);
        device["authentication"]!["symmetricKey"]!["primaryKey"] = Convert.ToBase64String(Guid.NewGuid().ToByteArray().Concat(Guid.NewGuid().ToByteArray()).ToArray());
        device["authentication"]!["symmetricKey"]!["secondaryKey"] = Convert.ToBase64String(Guid.NewGuid().ToByteArray().Concat(Guid.NewGuid().ToByteArray()).ToArray());
        await PutAndAssertClosedAndRefusedAsync(id, key, device, closed, TestContext.Current.CancellationToken);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_device_grain_activated_anew_since_the_connect_takes_the_session_from_the_edges_refresh_and_a_disable_then_closes_the_connection()
    {
        // A session lives in its device's grain. When the grain's silo died or stopped, the activation made elsewhere knew
        // no session: the device showed Disconnected and a disable could not close its connection until the device's next
        // message or keep-alive (hostile review, 2026-12-06: 15 of 30 disabled devices still connected 15 s on, closed at
        // their keep-alive ~167 s later). Here the activation is ended by hand, as a silo's stop ends it.
        var (id, key) = await fixture.NewDeviceAsync("rev-moved");
        var client = await MqttDevices.ConnectedAsync(Host, fixture.Clock, id, key);
        var closed = MqttDevices.Disconnected(client);
        var edge = Host.Services.GetRequiredService<MqttDeviceEdge>();
        await EndActivationAsync(id);
        Assert.Equal("Disconnected", await ConnectionStateAsync(id));
        var lastActivity = (string)(await fixture.GetDeviceAsync(id))["lastActivityTime"]!;

        await RefreshAsync(edge);

        var device = await fixture.GetDeviceAsync(id);
        Assert.Equal("Connected", (string)device["connectionState"]!);
        Assert.Equal(lastActivity, (string)device["lastActivityTime"]!); // the refresh is no activity of the device
        Assert.True(client.IsConnected);
        device["status"] = "disabled";
        await PutAndAssertClosedAndRefusedAsync(id, key, device, closed, TestContext.Current.CancellationToken);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_refresh_or_a_message_of_a_session_that_ended_while_its_grain_was_told_again_leaves_the_device_disconnected()
    {
        // The pass takes the sessions due, then calls their grains: a device that disconnects meanwhile has its Disconnect
        // reach the grain first, and the late re-assertion made the grain take the ended session (Connected for good:
        // a grain holding a session is never collected). Here the late call is made after the end, by hand.
        var (id, key) = await fixture.NewDeviceAsync("rev-late");
        var client = await MqttDevices.ConnectedAsync(Host, fixture.Clock, id, key);
        var edge = Host.Services.GetRequiredService<MqttDeviceEdge>();
        var session = edge.SessionOf(id)!;
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnEnded(string device)
        {
            if (device == id)
            {
                ended.TrySetResult();
            }
        }
        edge.SessionEnded += OnEnded;
        try
        {
            await client.DisconnectAsync(cancellationToken: TestContext.Current.CancellationToken);
            await ended.Task.WaitAsync(TestContext.Current.CancellationToken);
        }
        finally
        {
            edge.SessionEnded -= OnEnded;
        }
        Assert.Equal("Disconnected", await ConnectionStateAsync(id));

        await edge.ReattachAsync(session);
        Assert.Equal("Disconnected", await ConnectionStateAsync(id));
        // The same for a message of the ending connection meeting an activation made since the CONNECT, which the edge
        // tells of the session again before it records the message.
        await EndActivationAsync(id);
        await edge.MessageAsync(session, 1);
        Assert.Equal("Disconnected", await ConnectionStateAsync(id));
    }

    /// <summary>
    /// Moves the clock on by the edge's refresh period until a refresh pass has run (the pass waits on the fake clock; it
    /// may be between two waits when the clock first moves).
    /// </summary>
    private async Task RefreshAsync(MqttDeviceEdge edge)
    {
        var refreshed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnRefreshed() => refreshed.TrySetResult();
        edge.SessionsRefreshed += OnRefreshed;
        try
        {
            while (!refreshed.Task.IsCompleted)
            {
                fixture.Clock.Advance(TimeSpan.FromSeconds(15));
                await Task.WhenAny(refreshed.Task, Task.Delay(50, TestContext.Current.CancellationToken));
            }
        }
        finally
        {
            edge.SessionsRefreshed -= OnRefreshed;
        }
    }

    /// <summary>
    /// Replaces the device with <paramref name="device"/> (any ETag), as the owner; its connection must then close and a
    /// reconnect with <paramref name="key"/> get CONNACK 5.
    /// </summary>
    private async Task PutAndAssertClosedAndRefusedAsync(string id, string key, System.Text.Json.Nodes.JsonNode device, Task closed,
        CancellationToken cancellation)
    {
        using (var put = await fixture.Owner.PutDeviceAsync(id, device.ToJsonString(), "\"*\""))
        {
            await put.ReadDeviceAsync(HttpStatusCode.OK);
        }
        await closed.WaitAsync(cancellation);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ReconnectAsync(id, key));
    }

    private async Task<string> ConnectionStateAsync(string id) => (string)(await fixture.GetDeviceAsync(id))["connectionState"]!;

    /// <summary>Ends the device grain's activation, as the stop or death of its silo does: the next call activates it anew.</summary>
    private Task EndActivationAsync(string id) =>
        Host.Services.GetRequiredService<IGrainFactory>().GetGrain<IDeviceGrain>(id).Cast<IGrainManagementExtension>().DeactivateOnIdle().AsTask();

    private async Task<MqttClientConnectResultCode> ReconnectAsync(string id, string key)
    {
        var (client, result) = await MqttDevices.ConnectAsync(MqttDevices.Options(Host, id, fixture.DeviceToken(id, key)));
        Assert.False(client.IsConnected);
        return result.ResultCode;
    }
}
