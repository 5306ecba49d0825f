using System.Net;
using MQTTnet;
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
        using (var put = await fixture.Owner.PutDeviceAsync(id, device.ToJsonString(), "\"*\""))
        {
            await put.ReadDeviceAsync(HttpStatusCode.OK);
        }
        await closed.WaitAsync(TestContext.Current.CancellationToken);

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ReconnectAsync(id, key));
        Assert.Equal("Disconnected", (string)(await fixture.GetDeviceAsync(id))["connectionState"]!);
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
        using (var put = await fixture.Owner.PutDeviceAsync(id, device.ToJsonString(), "\"*\""))
        {
            await put.ReadDeviceAsync(HttpStatusCode.OK);
        }
        await closed.WaitAsync(TestContext.Current.CancellationToken);

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ReconnectAsync(id, key));
    }

    private async Task<MqttClientConnectResultCode> ReconnectAsync(string id, string key)
    {
        var (client, result) = await MqttDevices.ConnectAsync(MqttDevices.Options(Host, id, fixture.DeviceToken(id, key)));
        Assert.False(client.IsConnected);
        return result.ResultCode;
    }
}
