using MQTTnet;
using MQTTnet.Protocol;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Mqtt;

/// <summary>
/// A clean stop of a durable host with MQTT sessions open (hostile review, 2026-12-06): Kestrel's stop asks each connection
/// to close and waits for them all; an MQTT connection never ended by itself, so the stop waited out the whole
/// <c>ShutdownTimeoutSeconds</c> and the silo, stopped after Kestrel, had no time left to write the devices' presence.
/// Every device's activity since the last periodic write was lost, though the stop was clean and storage was up.
/// </summary>
public sealed class MqttStopTests(AzuriteFixture azurite)
{
    [Fact(Timeout = 180_000)]
    public async Task A_host_stopped_with_an_mqtt_session_open_closes_it_and_writes_the_devices_activity_before_its_silo_stops()
    {
        var ct = TestContext.Current.CancellationToken;
        var settings = new Dictionary<string, string?>(azurite.DurableSettings("mqstop" + Guid.NewGuid().ToString("N")[..8]))
        {
            // The stop's bound, which the open session used to exhaust; long enough for a loaded machine's whole stop.
            ["Registry:ShutdownTimeoutSeconds"] = "20",
            // No periodic write during the test: only the stop's own flush can persist the activity.
            ["Registry:PresencePersistSeconds"] = "3600",
        };
        const string id = "mqtt-stop";
        DateTime activity;
        Task closed;
        IMqttClient? client = null;
        var first = await RegistryTestHost.StartAsync(settings);
        try
        {
            using var owner = first.CreateClient();
            var key = (string)(await owner.CreateDeviceAsync(id))["authentication"]!["symmetricKey"]!["primaryKey"]!;
            client = await MqttDevices.ConnectedAsync(first, TimeProvider.System, id, key);
            closed = MqttDevices.Disconnected(client);
            var ack = await client.PublishStringAsync($"devices/{id}/messages/events/", "{\"heartbeat\":1}", MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: ct);
            Assert.True(ack.IsSuccess);
            var shown = await owner.GetDeviceJsonAsync(id);
            Assert.Equal("Connected", (string?)shown["connectionState"]);
            activity = (DateTime)shown["lastActivityTime"]!;
            Assert.NotEqual(default, activity);
        }
        finally
        {
            // The stop, with the session open.
            await first.DisposeAsync();
        }
        await closed.WaitAsync(ct);
        client?.Dispose();

        await using var second = await RegistryTestHost.StartAsync(settings);
        using var http = second.CreateClient();
        var after = await http.GetDeviceJsonAsync(id);
        Assert.Equal(activity, (DateTime)after["lastActivityTime"]!);
        Assert.Equal("Disconnected", (string?)after["connectionState"]);
    }
}
