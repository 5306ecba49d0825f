using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Protocol;
using Registry.Abstractions;
using Registry.Gateway.Mqtt;
using Registry.Gateway.Security;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Mqtt;

/// <summary>
/// Review, stop 32: an MQTT connection outlived the SAS token it connected with (still counted and <c>Connected</c>
/// minutes past the token's <c>se</c> and its 5-minute clock skew), so a stolen short-lived token served as long as its
/// socket stayed open. IoT Hub ends the connection when the token expires, which is why the SDKs renew by reconnecting;
/// the edge now does too, at the moment it would refuse the token. Each test has its own registry and clock.
/// </summary>
public sealed class MqttTokenExpiryTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_session_ends_when_its_token_expires_and_a_session_with_a_later_token_stays()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await MqttRegistryFixture.StartHostAsync(clock);
        var owner = host.Policy(SharedAccessPolicy.OwnerKeyName);
        using var admin = host.CreateSignedClient(() => SharedAccessSignature.Create(host.HostName, owner.PrimaryKey, owner.KeyName, clock.GetUtcNow().AddDays(1)));
        var edge = host.Services.GetRequiredService<MqttDeviceEdge>();
        var expired = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        edge.SessionAborted += (id, reason) =>
        {
            if (reason == SessionCloseReason.TokenExpired)
            {
                expired.TrySetResult(id);
            }
        };

        var shortKey = Key(await admin.CreateDeviceAsync("expiry-short"));
        var longKey = Key(await admin.CreateDeviceAsync("expiry-long"));
        var se = clock.GetUtcNow().AddMinutes(10);
        var (shortLived, result) = await MqttDevices.ConnectAsync(MqttDevices.Options(host, "expiry-short",
            SharedAccessSignature.Create($"{host.HostName}/devices/expiry-short", shortKey, null, se)));
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        var (longLived, longResult) = await MqttDevices.ConnectAsync(MqttDevices.Options(host, "expiry-long",
            SharedAccessSignature.Create($"{host.HostName}/devices/expiry-long", longKey, null, se.AddHours(2))));
        Assert.Equal(MqttClientConnectResultCode.Success, longResult.ResultCode);
        var closed = MqttDevices.Disconnected(shortLived);

        // At se + 5 minutes the token is still accepted (IoT Hub's clock skew), so the session still serves.
        clock.Advance(TimeSpan.FromMinutes(15));
        Assert.Equal(MqttClientPublishReasonCode.Success,
            (await shortLived.PublishStringAsync("devices/expiry-short/messages/events/", "1", MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: ct)).ReasonCode);

        // A second later it is not: the edge ends the session.
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("expiry-short", await expired.Task.WaitAsync(ct));
        await closed.WaitAsync(ct);
        Assert.Equal(MqttClientPublishReasonCode.Success,
            (await longLived.PublishStringAsync("devices/expiry-long/messages/events/", "1", MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: ct)).ReasonCode);
        Assert.True(longLived.IsConnected);

        // The same token cannot open a new session either.
        var (_, again) = await MqttDevices.ConnectAsync(MqttDevices.Options(host, "expiry-short",
            SharedAccessSignature.Create($"{host.HostName}/devices/expiry-short", shortKey, null, se)));
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, again.ResultCode);
        await longLived.DisconnectAsync(cancellationToken: ct);
    }

    private static string Key(System.Text.Json.Nodes.JsonObject device) =>
        (string)device["authentication"]!["symmetricKey"]!["primaryKey"]!;
}
