using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using Registry.Gateway.Security;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Mqtt;

/// <summary>
/// The real registry with its MQTT edge on a free port and its one clock under the test's control, plus MQTTnet
/// clients that connect as IoT Hub devices do (username <c>{HostName}/{id}/?api-version=…</c>, SAS password, client
/// id = device id, MQTT 3.1.1 over TLS trusting only the registry's generated CA).
/// The connect timeout is set long (<see cref="ConnectTimeout"/>) so that only the test's clock ever expires it.
/// </summary>
public sealed class MqttRegistryFixture : IAsyncLifetime
{
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromMinutes(10);

    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public RegistryTestHost Host { get; private set; } = null!;

    public HttpClient Owner { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Host = await StartHostAsync(Clock);
        // Signed on the registry's clock: tests here move it by hours in all (connect timeouts), past any real-time expiry.
        var owner = Host.Policy(SharedAccessPolicy.OwnerKeyName);
        Owner = Host.CreateSignedClient(() => SharedAccessSignature.Create(Host.HostName, owner.PrimaryKey, owner.KeyName, Clock.GetUtcNow().AddHours(1)));
    }

    /// <summary>A registry with the MQTT edge; <paramref name="settings"/> override the defaults.</summary>
    public static Task<RegistryTestHost> StartHostAsync(TimeProvider clock, IDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?> { ["Registry:MqttConnectTimeoutSeconds"] = ConnectTimeout.TotalSeconds.ToString() };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }
        return RegistryTestHost.StartAsync(all, configure: builder => builder.Services.UseGrainClock(clock));
    }

    /// <summary>A registry with throttling on and one throttle overridden to one a minute, and a device: (host, its primary key).</summary>
    public static async Task<(RegistryTestHost Host, string Key)> StartOneAMinuteAsync(TimeProvider clock, string throttle, string deviceId)
    {
        var host = await StartHostAsync(clock, new Dictionary<string, string?>
        {
            ["Registry:Throttling:Enabled"] = "true",
            [$"Registry:Throttling:Overrides:{throttle}"] = "1/min",
        });
        using var owner = host.CreateClient();
        return (host, (string)(await owner.CreateDeviceAsync(deviceId))["authentication"]!["symmetricKey"]!["primaryKey"]!);
    }

    /// <summary>A fresh device with generated keys: (id, primary key).</summary>
    public async Task<(string Id, string Key)> NewDeviceAsync(string prefix)
    {
        var id = $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];
        var device = await Owner.CreateDeviceAsync(id);
        return (id, (string)device["authentication"]!["symmetricKey"]!["primaryKey"]!);
    }

    public Task<JsonObject> GetDeviceAsync(string id) => Owner.GetDeviceJsonAsync(id);

    /// <summary>A device token for <c>sr = HostName/devices/{id}</c>, valid an hour on the registry's clock.</summary>
    public string DeviceToken(string deviceId, string key) => MqttDevices.Token(Host, Clock, deviceId, key);

    public async ValueTask DisposeAsync()
    {
        Owner.Dispose();
        await Host.DisposeAsync();
    }
}

/// <summary>MQTTnet clients and raw sockets against a registry's MQTT edge.</summary>
public static class MqttDevices
{
    public const string ApiVersion = "api-version=2021-04-12";

    public static string Token(RegistryTestHost host, TimeProvider clock, string deviceId, string key) =>
        SharedAccessSignature.Create($"{host.HostName}/devices/{deviceId}", key, null, clock.GetUtcNow().AddHours(1));

    public static string UserName(RegistryTestHost host, string deviceId) => $"{host.HostName}/{deviceId}/?{ApiVersion}";

    /// <summary>Options as the SDK sends them: 3.1.1, clean session off, keep-alive 180 s; client id defaults to the device id.</summary>
    public static MqttClientOptions Options(RegistryTestHost host, string deviceId, string password, string? clientId = null, string? userName = null) =>
        new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", host.MqttPort)
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithClientId(clientId ?? deviceId)
            .WithCredentials(userName ?? UserName(host, deviceId), password)
            .WithCleanSession(false)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(180))
            .WithTimeout(TimeSpan.FromSeconds(30))
            .WithTlsOptions(tls => tls.UseTls().WithTargetHost("localhost").WithCertificateValidationHandler(e => Trusts(host, e.Certificate)))
            .Build();

    public static IMqttClient NewClient() => new MqttClientFactory().CreateMqttClient();

    /// <summary>Connects a new client; the caller checks the result code.</summary>
    public static async Task<(IMqttClient Client, MqttClientConnectResult Result)> ConnectAsync(MqttClientOptions options)
    {
        var client = NewClient();
        var result = await client.ConnectAsync(options, TestContext.Current.CancellationToken);
        return (client, result);
    }

    /// <summary>A connected client for a device, failing the test unless CONNACK 0.</summary>
    public static async Task<IMqttClient> ConnectedAsync(RegistryTestHost host, TimeProvider clock, string deviceId, string key)
    {
        var (client, result) = await ConnectAsync(Options(host, deviceId, Token(host, clock, deviceId, key)));
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        return client;
    }

    /// <summary>Completes when <paramref name="client"/> is disconnected (by the server or otherwise).</summary>
    public static Task Disconnected(IMqttClient client)
    {
        var disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.DisconnectedAsync += _ =>
        {
            disconnected.TrySetResult();
            return Task.CompletedTask;
        };
        if (!client.IsConnected)
        {
            disconnected.TrySetResult();
        }
        return disconnected.Task;
    }

    /// <summary>A raw TCP connection to the edge, nothing said yet.</summary>
    public static async Task<TcpClient> RawTcpAsync(RegistryTestHost host)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", host.MqttPort, TestContext.Current.CancellationToken);
        return tcp;
    }

    /// <summary>A raw TLS stream to the edge, handshake done, no MQTT packet sent.</summary>
    public static async Task<(TcpClient Tcp, SslStream Tls)> RawTlsAsync(RegistryTestHost host)
    {
        var tcp = await RawTcpAsync(host);
        var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) => certificate is not null && Trusts(host, certificate));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, TestContext.Current.CancellationToken);
        return (tcp, tls);
    }

    /// <summary>Reads until the server closes: true once a read returns 0 or fails (the server closed or reset it).</summary>
    public static async Task<bool> ClosedByServerAsync(Stream stream, TimeSpan guard)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(guard);
        var buffer = new byte[1024];
        try
        {
            while (await stream.ReadAsync(buffer, timeout.Token) > 0)
            {
            }
            return true;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private static bool Trusts(RegistryTestHost host, System.Security.Cryptography.X509Certificates.X509Certificate certificate)
    {
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(host.CaPath));
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(certificate));
    }
}
