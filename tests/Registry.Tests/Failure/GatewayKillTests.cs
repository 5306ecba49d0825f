using MQTTnet;
using MQTTnet.Formatter;
using Registry.Gateway.Security;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Failure.FailureSteps;

namespace Registry.Tests.Failure;

/// <summary>
/// <c>kill -9</c> of one of two gateway processes in front of a silo process on Azurite: MQTT devices connect again through
/// the other gateway, an HTTP client moves its writes to the other address, and nothing acknowledged is lost.
/// </summary>
[Collection(FailureCollection.Name)]
public sealed class GatewayKillTests(AzuriteFixture azurite)
{
    private const int MqttDevices = 20;

    [Fact(Timeout = 300_000)]
    public async Task Killing_a_gateway_moves_its_mqtt_devices_and_http_writes_to_the_other_and_loses_nothing_acknowledged()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = new FailureCluster(azurite.ConnectionString);
        await cluster.StartSiloAsync(ct);
        var gateways = await Task.WhenAll(cluster.StartGatewayAsync(ct), cluster.StartGatewayAsync(ct));
        var (a, b) = (gateways[0], gateways[1]);
        using var httpA = await cluster.OwnerAsync(a, ct);
        using var httpB = await cluster.OwnerAsync(b, ct);

        var ids = Enumerable.Range(0, MqttDevices).Select(i => $"mqtt-{i:D2}").ToList();
        await RegisterAsync(httpB, ids);
        var keys = new Dictionary<string, string>();
        foreach (var id in ids)
        {
            keys[id] = (string)(await httpB.GetDeviceJsonAsync(id))["authentication"]!["symmetricKey"]!["primaryKey"]!;
        }
        var devices = ids.Select(id => new FailoverDevice(id, keys[id], [a, b])).ToList();
        try
        {
            await Task.WhenAll(devices.Select(d => d.ConnectAsync(ct)));
            await using var writes = new WriteLedger([httpA, httpB], "write", writers: 4);
            await writes.UntilAcknowledgedAsync(20, ct);

            var killed = DateTimeOffset.UtcNow;
            await FailureCluster.KillAsync(a.Process, ct);

            await Task.WhenAll(devices.Select(d => d.UntilConnectedToAsync(b, ct)));
            await UntilAsync(() => writes.FirstAcknowledgedElsewhere is not null, ct);
            var mqttMoved = devices.Max(d => d.ConnectedAt) - killed;
            var httpMoved = writes.FirstAcknowledgedElsewhere!.Value - killed;
            Report($"gateway killed: {MqttDevices} MQTT devices connected through the other {mqttMoved.TotalSeconds:0.0} s after the kill, " +
                $"HTTP writes acknowledged by the other after {httpMoved.TotalSeconds:0.0} s (write refusals: {SiloKillTests.Describe(writes.Refusals)})");
            await writes.UntilAcknowledgedAsync(20, ct);
            await writes.StopAsync();

            Assert.Empty(await writes.LostAsync(httpB));
            // Each device's session is the one through B: the registry shows it connected, and it publishes there.
            foreach (var device in devices)
            {
                Assert.Equal("Connected", (string?)(await httpB.GetDeviceJsonAsync(device.Id))["connectionState"]);
                await device.PublishAsync(ct);
            }
            // A write without an answer is no acknowledgement; everything that did answer answered 200 or 503.
            Assert.All(writes.Refusals.Keys, status => Assert.Contains(status, new[] { 0, 503 }));
        }
        finally
        {
            foreach (var device in devices)
            {
                await device.DisposeAsync();
            }
        }
    }

    /// <summary>An MQTT device that, when its connection drops, connects again through the next gateway of its list.</summary>
    private sealed class FailoverDevice : IAsyncDisposable
    {
        private readonly string _key;
        private readonly GatewayProcess[] _gateways;
        private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
        private readonly CancellationTokenSource _stop = new();
        private GatewayProcess _gateway;
        private Task _reconnect = Task.CompletedTask;

        public FailoverDevice(string id, string key, GatewayProcess[] gateways)
        {
            Id = id;
            _key = key;
            _gateways = gateways;
            _gateway = gateways[0];
            _client.DisconnectedAsync += _ =>
            {
                if (!_stop.IsCancellationRequested)
                {
                    _reconnect = ReconnectAsync();
                }
                return Task.CompletedTask;
            };
        }

        public string Id { get; }

        public DateTimeOffset ConnectedAt { get; private set; }

        private volatile GatewayProcess? _connectedTo;

        public async Task ConnectAsync(CancellationToken ct)
        {
            var result = await _client.ConnectAsync(Options(_gateway), ct);
            Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
            ConnectedAt = DateTimeOffset.UtcNow;
            _connectedTo = _gateway;
        }

        public async Task UntilConnectedToAsync(GatewayProcess gateway, CancellationToken ct)
        {
            await UntilAsync(() => _connectedTo == gateway, ct);
        }

        public Task PublishAsync(CancellationToken ct) =>
            _client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic($"devices/{Id}/messages/events/")
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce)
                .Build(), ct);

        private async Task ReconnectAsync()
        {
            _connectedTo = null;
            while (!_stop.IsCancellationRequested)
            {
                _gateway = _gateways[(Array.IndexOf(_gateways, _gateway) + 1) % _gateways.Length];
                try
                {
                    var result = await _client.ConnectAsync(Options(_gateway), _stop.Token);
                    if (result.ResultCode == MqttClientConnectResultCode.Success)
                    {
                        ConnectedAt = DateTimeOffset.UtcNow;
                        _connectedTo = _gateway;
                        return;
                    }
                }
                catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException)
                {
                    // that gateway is not there: the next one
                }
                await Task.Delay(200, _stop.Token); // a device's back-off between attempts
            }
        }

        private MqttClientOptions Options(GatewayProcess gateway) =>
            new MqttClientOptionsBuilder()
                .WithTcpServer("127.0.0.1", gateway.MqttPort)
                .WithProtocolVersion(MqttProtocolVersion.V311)
                .WithClientId(Id)
                .WithCredentials($"{GatewayProcess.HostName}/{Id}/?api-version=2021-04-12",
                    SharedAccessSignature.Create($"{GatewayProcess.HostName}/devices/{Id}", _key, null, DateTimeOffset.UtcNow.AddHours(1)))
                .WithCleanSession(false)
                .WithKeepAlivePeriod(TimeSpan.FromSeconds(30))
                .WithTimeout(TimeSpan.FromSeconds(30))
                .WithTlsOptions(tls => tls.UseTls().WithTargetHost("localhost").WithCertificateValidationHandler(e => gateway.Trusts(e.Certificate)))
                .Build();

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _reconnect;
            }
            catch (OperationCanceledException)
            {
                // stopped while it waited
            }
            _client.Dispose();
            _stop.Dispose();
        }
    }
}
