using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Protocol;
using Registry.Gateway.Mqtt;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Mqtt;

/// <summary>
/// The edge holds whatever clients do: a connection has the connect timeout (TLS handshake and CONNECT together, on
/// the registry's clock) and no more; connections beyond the limit are closed at accept; keep-alive is enforced;
/// a client that stalls mid-packet holds up nobody else.
/// </summary>
public sealed class MqttEdgeHoldTests(MqttRegistryFixture fixture) : IClassFixture<MqttRegistryFixture>
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private RegistryTestHost Host => fixture.Host;

    private MqttDeviceEdge Edge => Host.Services.GetRequiredService<MqttDeviceEdge>();

    [Fact(Timeout = 60_000)]
    public async Task A_socket_that_never_starts_tls_is_closed_by_the_server_at_the_connect_timeout()
    {
        var admitted = NextAdmission();
        using var tcp = await MqttDevices.RawTcpAsync(Host);
        await admitted.WaitAsync(TestContext.Current.CancellationToken);

        fixture.Clock.Advance(MqttRegistryFixture.ConnectTimeout + TimeSpan.FromSeconds(1));

        Assert.True(await MqttDevices.ClosedByServerAsync(tcp.GetStream(), Guard), "the silent socket is still open");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_connection_that_completes_tls_but_sends_no_connect_is_closed_by_the_server_at_the_connect_timeout()
    {
        var (tcp, tls) = await MqttDevices.RawTlsAsync(Host);
        using (tcp)
        await using (tls)
        {
            fixture.Clock.Advance(MqttRegistryFixture.ConnectTimeout + TimeSpan.FromSeconds(1));

            Assert.True(await MqttDevices.ClosedByServerAsync(tls, Guard), "the TLS connection without CONNECT is still open");
            Assert.False(TestContext.Current.CancellationToken.IsCancellationRequested);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_device_that_connected_in_time_outlives_the_connect_timeout()
    {
        var (id, key) = await fixture.NewDeviceAsync("intime");
        var client = await MqttDevices.ConnectedAsync(Host, fixture.Clock, id, key);

        fixture.Clock.Advance(MqttRegistryFixture.ConnectTimeout + TimeSpan.FromSeconds(1));
        var ack = await client.PublishStringAsync($"devices/{id}/messages/events/", "{}", MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(ack.IsSuccess);
        await client.DisconnectAsync();
    }

    [Fact(Timeout = 60_000)]
    public async Task A_device_silent_beyond_one_and_a_half_keep_alive_periods_is_closed_by_the_server()
    {
        var (id, key) = await fixture.NewDeviceAsync("keepalive");
        var (tcp, tls) = await MqttDevices.RawTlsAsync(Host);
        using (tcp)
        await using (tls)
        {
            await tls.WriteAsync(RawMqtt.Connect(id, MqttDevices.UserName(Host, id), fixture.DeviceToken(id, key), keepAliveSeconds: 1), TestContext.Current.CancellationToken);
            var connack = new byte[4];
            await tls.ReadExactlyAsync(connack, TestContext.Current.CancellationToken);
            Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, connack);

            // MQTTnet's monitor (real time, not the registry's clock) drops it after 1.5 s of silence.
            Assert.True(await MqttDevices.ClosedByServerAsync(tls, Guard), "the silent device is still connected");
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_client_stalled_inside_a_packet_holds_up_no_other_device()
    {
        var (id, key) = await fixture.NewDeviceAsync("stall");
        var (other, otherKey) = await fixture.NewDeviceAsync("busy");
        var (tcp, tls) = await MqttDevices.RawTlsAsync(Host);
        using (tcp)
        await using (tls)
        {
            var connect = RawMqtt.Connect(id, MqttDevices.UserName(Host, id), fixture.DeviceToken(id, key), keepAliveSeconds: 180);
            await tls.WriteAsync(connect.AsMemory(0, connect.Length / 2), TestContext.Current.CancellationToken);
            await tls.FlushAsync(TestContext.Current.CancellationToken);

            var client = await MqttDevices.ConnectedAsync(Host, fixture.Clock, other, otherKey);
            var ack = await client.PublishStringAsync($"devices/{other}/messages/events/", "{}", MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: TestContext.Current.CancellationToken);

            Assert.True(ack.IsSuccess);
            await client.DisconnectAsync();
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_connect_of_over_64_KB_with_a_will_at_the_3_1_1_maximum_is_answered_at_once()
    {
        var (id, key) = await fixture.NewDeviceAsync("bigwill");
        var (tcp, tls) = await MqttDevices.RawTlsAsync(Host);
        using (tcp)
        await using (tls)
        {
            var connect = RawMqtt.Connect(id, MqttDevices.UserName(Host, id), fixture.DeviceToken(id, key), keepAliveSeconds: 180,
                $"devices/{id}/messages/events/", new byte[ushort.MaxValue]);
            Assert.True(connect.Length > 64 * 1024);

            await tls.WriteAsync(connect, TestContext.Current.CancellationToken);
            var connack = new byte[4];
            await tls.ReadExactlyAsync(connack, TestContext.Current.CancellationToken);

            // Before the connect timeout: the registry's clock was not moved.
            Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, connack);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_connect_that_declares_more_bytes_than_it_sends_is_closed_at_the_connect_timeout()
    {
        var (id, key) = await fixture.NewDeviceAsync("shortconnect");
        var (tcp, tls) = await MqttDevices.RawTlsAsync(Host);
        using (tcp)
        await using (tls)
        {
            // What mqtt-packet 6.10 (the device SDK's encoder) sends for a password over 65,535 bytes, which MQTT 3.1.1
            // cannot encode: a fixed header declaring the whole length, then only the fields it could write.
            var connect = RawMqtt.Connect(id, MqttDevices.UserName(Host, id), fixture.DeviceToken(id, key), keepAliveSeconds: 180);
            var header = 2;
            while ((connect[header - 1] & 0x80) != 0)
            {
                header++;
            }
            var body = connect.AsMemory(header);
            await tls.WriteAsync(RawMqtt.Header(0x10, body.Length + 100_000), TestContext.Current.CancellationToken);
            await tls.WriteAsync(body, TestContext.Current.CancellationToken);
            await tls.FlushAsync(TestContext.Current.CancellationToken);

            fixture.Clock.Advance(MqttRegistryFixture.ConnectTimeout + TimeSpan.FromSeconds(1));

            Assert.True(await MqttDevices.ClosedByServerAsync(tls, Guard), "the connection waiting for the rest of its CONNECT is still open");
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_connection_beyond_the_limit_is_closed_at_accept_and_the_open_ones_keep_serving()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await MqttRegistryFixture.StartHostAsync(clock, new Dictionary<string, string?> { ["Registry:MqttMaxConnections"] = "2" });
        using var owner = host.CreateClient();
        var clients = new List<IMqttClient>();
        foreach (var id in new[] { "limit-a", "limit-b" })
        {
            var key = (string)(await owner.CreateDeviceAsync(id))["authentication"]!["symmetricKey"]!["primaryKey"]!;
            clients.Add(await MqttDevices.ConnectedAsync(host, clock, id, key));
        }

        // Closed at accept: the reset may even reach the client before its connect completes.
        TcpClient? third = null;
        try
        {
            third = await MqttDevices.RawTcpAsync(host);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
        using var _ = third;

        Assert.True(third is null || await MqttDevices.ClosedByServerAsync(third.GetStream(), Guard), "the connection beyond the limit is open");
        Assert.Equal(2, host.Services.GetRequiredService<MqttDeviceEdge>().OpenConnections);
        var ack = await clients[0].PublishStringAsync("devices/limit-a/messages/events/", "{}", MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(ack.IsSuccess);
    }

    private Task NextAdmission()
    {
        var admitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Edge.Admitted += () => admitted.TrySetResult();
        return admitted.Task;
    }
}
