using System.Globalization;
using System.Net;
using Registry.Abstractions;
using Registry.Bench;
using Registry.Bench.Heartbeats;
using Registry.Client;
using Registry.Host;

namespace Registry.LoadTests.Scenarios;

/// <summary>
/// The registry a scenario loads: by default one started in this process with the host's own builder (real Kestrel,
/// real TLS, a real silo with an Orleans gateway, memory storage), so one command works on a fresh machine; or an
/// external cluster reached by its Orleans gateways. Scenarios reach it as a client app would: an Orleans client over
/// the gateway port, HttpClient over HTTPS, MQTTnet over TLS.
/// </summary>
internal sealed class RegistryTarget : IAsyncDisposable
{
    private readonly BenchRegistry? _registry;
    private readonly IHost _client;

    private RegistryTarget(BenchRegistry? registry, IHost client, string description, int? mqttPort)
    {
        _registry = registry;
        _client = client;
        Description = description;
        MqttPort = mqttPort;
    }

    public IClusterClient Grains => _client.Services.GetRequiredService<IClusterClient>();

    /// <summary>The in-process registry (null for an external cluster): its HTTPS address, certificates and owner token.</summary>
    public BenchRegistry? InProcess => _registry;

    public int? MqttPort { get; }

    public string Description { get; }

    /// <summary>
    /// Starts a registry in this process (authentication on, memory storage) and connects a client to its gateway.
    /// <paramref name="tokenDevices"/> devices will present their own SAS tokens (the token cache is sized for them);
    /// <paramref name="mqtt"/> opens the MQTT edge for as many connections. <paramref name="extraSettings"/> adds host
    /// settings (a heartbeat policy, routes); <paramref name="events"/> gives the client the registry's event stream.
    /// </summary>
    public static async Task<RegistryTarget> StartInProcessAsync(int tokenDevices, bool mqtt, CancellationToken cancel,
        IReadOnlyDictionary<string, string>? extraSettings = null, bool events = false)
    {
        var name = "lt" + Guid.NewGuid().ToString("N")[..8];
        var ports = BenchHost.FreePorts(2);
        var settings = new Dictionary<string, string?>
        {
            ["Registry:GatewayPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
            ["Registry:MqttPort"] = mqtt ? ports[1].ToString(CultureInfo.InvariantCulture) : "0",
            ["Registry:MqttMaxConnections"] = (tokenDevices + 100).ToString(CultureInfo.InvariantCulture),
            // Every simulated device presents its own token: the cache must hold them all or each call re-validates.
            ["Registry:Authentication:TokenCacheSize"] = Math.Max(50_000, tokenDevices * 2).ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in extraSettings ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }
        var registry = await BenchHost.StartRegistryAsync(name, storage: null, authentication: true, certificate: null, partitions: null, settings, hearSignals: false);
        try
        {
            var client = await ConnectAsync(c =>
            {
                c.UseLocalhostClustering(ports[0], "bench-" + name, "bench-" + name);
                if (events)
                {
                    c.AddMemoryStreams(RegistryStreams.Provider);
                }
            }, cancel);
            return new RegistryTarget(registry, client, $"registry in this process (memory storage, SAS authentication on), Orleans client through its gateway on 127.0.0.1:{ports[0]}",
                mqtt ? ports[1] : null);
        }
        catch
        {
            await registry.StopAsync();
            throw;
        }
    }

    /// <summary>
    /// Connects to an external cluster's gateways (<c>host:port[,host:port…]</c>), giving up after
    /// <paramref name="limit"/> (default <see cref="ConnectLimit"/>); <paramref name="log"/> says when the client starts
    /// trying, since an unreachable gateway is otherwise a silent wait.
    /// </summary>
    public static async Task<RegistryTarget> ConnectExternalAsync(string gateways, string clusterId, string serviceId, CancellationToken cancel,
        TimeSpan? limit = null, Action<string>? log = null)
    {
        var endpoints = ParseGateways(gateways);
        var client = await ConnectAsync(c =>
        {
            c.UseStaticClustering(endpoints);
            c.Configure<Orleans.Configuration.ClusterOptions>(o =>
            {
                o.ClusterId = clusterId;
                o.ServiceId = serviceId;
            });
        }, cancel, limit, log, gateways);
        try
        {
            // Orleans lets a client with another ServiceId in by its ClusterId: the run would go on against a cluster it was
            // not told of (a review ran one with a wrong --service-id to its end, exit 0, 2026-12-07). Asked as the client
            // apps ask (Registry.Client's check).
            var served = await client.Services.GetRequiredService<IClusterClient>().GetGrain<IClusterViewGrain>(0).ServiceId().WaitAsync(cancel);
            if (!string.Equals(served, serviceId, StringComparison.Ordinal))
            {
                throw new InvalidOperationException(
                    $"the cluster '{clusterId}' at {gateways} runs Registry:ServiceId '{served}', not '{serviceId}': give --service-id the cluster's own.");
            }
        }
        catch (Exception)
        {
            await client.StopAsync(CancellationToken.None);
            client.Dispose();
            throw;
        }
        return new RegistryTarget(null, client, $"external cluster '{clusterId}' through gateway{(endpoints.Length > 1 ? "s" : "")} {gateways}", null);
    }

    /// <summary>Connects to a durable cluster as a client app does (Registry.Client: clustering and event stream from its storage).</summary>
    public static async Task<RegistryTarget> ConnectClientAsync(RegistryClientOptions options, string description, CancellationToken cancel) =>
        new(null, await ConnectAsync(c => c.UseRegistryCluster(options), cancel), description, null);

    /// <summary>Registers the devices (bulk create through the grain interface), each with the harness's known device key.</summary>
    public Task FillAsync(string[] ids, Action<string> log, CancellationToken cancel) =>
        HeartbeatBench.Fill(Grains, ids, new LogWriter(log), cancel);

    /// <summary>The key every filled device has, so the harness can sign each device's own SAS token.</summary>
    public static string DeviceKey => HeartbeatBench.DeviceKey;

    /// <summary>A device's own SAS token, as the device SDKs sign it (audience <c>host/devices/id</c>, no key name).</summary>
    public static string DeviceToken(string deviceId) =>
        Gateway.Security.SharedAccessSignature.Create($"localhost/devices/{deviceId}", DeviceKey, null, DateTimeOffset.UtcNow.AddHours(12));

    /// <summary>An HTTPS client that trusts the in-process registry's development CA.</summary>
    public HttpClient CreateHttpClient(int connections) =>
        BenchHost.CreateClient(Path.Combine(InProcess!.Certificates, DevelopmentCertificates.CaFileName), connections);

    /// <summary>The ceiling of an HTTPS call: Kestrel with the registry's certificate and nothing behind it.</summary>
    public async Task<(WebApplication Server, string BaseAddress)> StartNoopServerAsync(CancellationToken cancel)
    {
        var port = BenchHost.FreePorts(1)[0];
        var server = BenchHost.BuildNoopServer(Path.Combine(InProcess!.Certificates, DevelopmentCertificates.ServerFileName), port, hearSignals: false);
        await server.StartAsync(cancel);
        return (server, $"https://127.0.0.1:{port}");
    }

    public async ValueTask DisposeAsync()
    {
        await _client.StopAsync(CancellationToken.None);
        _client.Dispose();
        if (_registry is not null)
        {
            await _registry.StopAsync();
        }
    }

    /// <summary>How long a client gets to reach a gateway unless the scenario says otherwise (<c>--connect-limit</c>).</summary>
    public static readonly TimeSpan ConnectLimit = TimeSpan.FromSeconds(60);

    private static async Task<IHost> ConnectAsync(Action<IClientBuilder> configure, CancellationToken cancel,
        TimeSpan? limit = null, Action<string>? log = null, string? gateways = null)
    {
        var connectLimit = limit ?? ConnectLimit;
        var at = gateways is null ? "" : $" at {gateways}";
        // What the gateway answered last: a gateway of another cluster refuses the client, which is not "no answer".
        Exception? lastRefusal = null;
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        // The default console lifetime takes SIGINT and SIGTERM for the client host: it stopped a connect in progress
        // before the harness's own handler saw the signal, so Ctrl+C read as an unreachable gateway. The harness alone
        // handles signals, through the token.
        builder.Services.AddSingleton<IHostLifetime, SignalFreeLifetime>();
        builder.UseOrleansClient(client =>
        {
            // On a saturated machine a bulk fill call can queue past Orleans' 30 s default and fail the whole run
            // (seen at 900k of 1M devices with a load average of 110); the harness measures latency itself.
            client.Configure<Orleans.Configuration.ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromMinutes(5));
            configure(client);
            // Tried again until the limit, as before; the first refusal is said, so a wrong address shows at once.
            var said = 0;
            client.UseConnectionRetryFilter(async (e, token) =>
            {
                lastRefusal = e;
                if (log is not null && Interlocked.Exchange(ref said, 1) == 0)
                {
                    log($"no answer yet from the Orleans gateway{at} ({e.GetType().Name}); trying again until the limit");
                }
                await Task.Delay(TimeSpan.FromSeconds(1), token);
                return true;
            });
        });
        var host = builder.Build();
        // An unreachable gateway would otherwise keep the client trying, and the run waiting, without a word.
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        bounded.CancelAfter(connectLimit);
        try
        {
            // Said once the start is under way, not before: a signal after this line lands in the connect itself.
            var starting = host.StartAsync(bounded.Token);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"connecting to the Orleans gateway{at} (up to {connectLimit.TotalSeconds:0.###} s)"));
            await starting;
        }
        catch (Exception e) when (cancel.IsCancellationRequested)
        {
            // Ctrl+C or SIGTERM: the preparation's stop, which the run reports as partial, not a failure to connect.
            host.Dispose();
            throw new OperationCanceledException($"the connect to the Orleans gateway{at} was cancelled by Ctrl+C or SIGTERM", e, cancel);
        }
        catch (Exception e) when (e is OperationCanceledException or Orleans.Runtime.OrleansException or System.Net.Sockets.SocketException)
        {
            host.Dispose();
            // One line said in full: the limit's cancellation carries no more than "a task was canceled" (no inner
            // exception, so the harness prints no stack trace for what is an unreachable address).
            var cause = e is OperationCanceledException
                ? (lastRefusal is { } refusal ? $" (the last try: {refusal.GetType().Name}: {refusal.Message.TrimEnd('.')})" : "")
                    + "; check that it runs and that --cluster-id is the cluster's Registry:ClusterId: a gateway of another cluster refuses the client alike"
                : $" ({e.GetType().Name}: {e.Message})";
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"no Orleans gateway{at} accepted the client within {connectLimit.TotalSeconds:0.###} s{cause}."));
        }
        return host;
    }

    /// <summary>The gateways of <c>host:port[,host:port…]</c>; a malformed one is an <see cref="ArgumentException"/>.</summary>
    public static IPEndPoint[] ParseGateways(string gateways) =>
        gateways.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } parts
            ? parts.Select(ParseEndpoint).ToArray()
            : throw new ArgumentException("--cluster needs host:port[,host:port…].");

    private static IPEndPoint ParseEndpoint(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(text[(colon + 1)..], CultureInfo.InvariantCulture, out var port))
        {
            throw new ArgumentException($"--cluster: '{text}' is not host:port.");
        }
        if (port is < IPEndPoint.MinPort + 1 or > IPEndPoint.MaxPort)
        {
            // .NET's own text ("Specified argument was out of the range of valid values. (Parameter 'port')") named no option.
            throw new ArgumentException($"--cluster: '{text}': a port is 1 to {IPEndPoint.MaxPort}.");
        }
        var host = text[..colon];
        if (IPAddress.TryParse(host, out var ip))
        {
            return new IPEndPoint(ip, port);
        }
        try
        {
            return new IPEndPoint(Dns.GetHostAddresses(host).First(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork), port);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or InvalidOperationException)
        {
            throw new ArgumentException($"--cluster: '{host}' has no IPv4 address ({e.Message}).", e);
        }
    }

    /// <summary>Hands the fill's progress lines to the harness log.</summary>
    private sealed class LogWriter(Action<string> log) : TextWriter
    {
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void WriteLine(string? value) => log(value ?? "");
    }
}
