using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using MQTTnet;
using MQTTnet.Formatter;
using Registry.Gateway.Security;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Failure.FailureSteps;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Failure;

/// <summary>
/// The only silo of a cluster killed behind a running gateway process, the window of a full restart: until a silo is back,
/// a device's heartbeat (HTTPS), its MQTT connect and a registry write answer IoT Hub's 503 ServiceUnavailable (CONNACK 3
/// over MQTT), which the SDKs retry, never 500, and change nothing. The silo is a process killed with <c>kill -9</c>
/// because only that leaves it listed active in the membership table, as every silo is while a restart is under way: a
/// silo stopped in-process says goodbye, and its gateway then knows there is no silo at all, which it answered 503 already.
/// </summary>
[Collection(FailureCollection.Name)]
public sealed class ClusterDownTests(AzuriteFixture azurite)
{
    [Fact(Timeout = 300_000)]
    public async Task While_every_silo_is_down_heartbeats_mqtt_connects_and_writes_answer_503_ServiceUnavailable_and_change_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = new FailureCluster(azurite.ConnectionString);
        var silo = await cluster.StartSiloAsync(ct);
        var gateway = await cluster.StartGatewayAsync(ct);
        using var owner = await cluster.OwnerAsync(gateway, ct);
        var beating = await owner.CreateDeviceAsync("beating");
        var connecting = await owner.CreateDeviceAsync("connecting");
        using var device = DeviceClient(gateway, "beating", KeyOf(beating));
        using (var served = await BeatAsync(device, "beating"))
        {
            Assert.Equal(HttpStatusCode.NoContent, served.StatusCode);
        }

        await FailureCluster.KillAsync(silo.Process, ct);
        var killed = DateTimeOffset.UtcNow;

        using (var beat = await BeatAsync(device, "beating"))
        {
            await AssertServiceUnavailableAsync(beat);
        }
        using (var update = await owner.PutDeviceAsync("beating", Json(new { deviceId = "beating", status = "disabled" }), "*"))
        {
            await AssertServiceUnavailableAsync(update);
        }
        using (var create = await owner.PutDeviceAsync("created", Json(new { deviceId = "created" })))
        {
            await AssertServiceUnavailableAsync(create);
        }
        using var mqtt = new MqttClientFactory().CreateMqttClient();
        var connack = await mqtt.ConnectAsync(MqttOptions(gateway, "connecting", KeyOf(connecting)), ct);
        Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, connack.ResultCode);

        await cluster.StartSiloAsync(silo, ct);
        await UntilAsync(async () =>
        {
            using var response = await owner.GetDeviceAsync("beating");
            return response.StatusCode == HttpStatusCode.OK;
        }, ct);
        var after = await owner.GetDeviceJsonAsync("beating");
        Assert.Equal((string?)beating["etag"], (string?)after["etag"]);
        Assert.Equal("enabled", (string?)after["status"]);
        // The refused beat was not counted: the last activity the registry knows is from before the kill.
        Assert.True(DateTimeOffset.Parse((string)after["lastActivityTime"]!, CultureInfo.InvariantCulture) < killed, $"lastActivityTime {after["lastActivityTime"]}");
        using var absent = await owner.GetDeviceAsync("created");
        Assert.Equal(HttpStatusCode.NotFound, absent.StatusCode);
        Assert.Equal("Disconnected", (string?)(await owner.GetDeviceJsonAsync("connecting"))["connectionState"]);
    }

    /// <summary>IoT Hub's 503: status, <c>iothub-errorcode</c> header and the legacy body naming ServiceUnavailable.</summary>
    private static async Task AssertServiceUnavailableAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"expected 503 ServiceUnavailable, got {(int)response.StatusCode}: {text}");
        Assert.Equal("ServiceUnavailable", response.Headers.GetValues("iothub-errorcode").Single());
        Assert.StartsWith("ErrorCode:ServiceUnavailable;", (string?)JsonNode.Parse(text)!["Message"], StringComparison.Ordinal);
    }

    private static string KeyOf(JsonObject device) => (string)device["authentication"]!["symmetricKey"]!["primaryKey"]!;

    private static Task<HttpResponseMessage> BeatAsync(HttpClient device, string id)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"devices/{id}/messages/events?{ApiVersion}") { Content = new ByteArrayContent([]) };
        return device.SendAsync(request);
    }

    private static HttpClient DeviceClient(GatewayProcess gateway, string id, string key) =>
        gateway.Client(() => SharedAccessSignature.Create($"{GatewayProcess.HostName}/devices/{id}", key, null, DateTimeOffset.UtcNow.AddHours(1)));

    private static MqttClientOptions MqttOptions(GatewayProcess gateway, string id, string key) =>
        new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", gateway.MqttPort)
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithClientId(id)
            .WithCredentials($"{GatewayProcess.HostName}/{id}/?api-version=2021-04-12",
                SharedAccessSignature.Create($"{GatewayProcess.HostName}/devices/{id}", key, null, DateTimeOffset.UtcNow.AddHours(1)))
            .WithTimeout(TimeSpan.FromSeconds(30))
            .WithTlsOptions(tls => tls.UseTls().WithTargetHost("localhost").WithCertificateValidationHandler(e => gateway.Trusts(e.Certificate)))
            .Build();
}
