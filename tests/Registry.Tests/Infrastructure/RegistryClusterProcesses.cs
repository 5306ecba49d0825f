using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Registry.Abstractions;
using Registry.Client;
using Registry.Gateway.Security;
using Registry.Host;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// A durable registry cluster of real processes on loopback, as an operator runs one: silo processes
/// (<c>Registry:Role=silo</c>) and gateway processes (<c>Registry:Role=gateway</c>) sharing a cluster id, a storage prefix
/// and one Azurite, each with ports and a data folder of its own. Also hands out a client app's Orleans client
/// (<see cref="RegistryClientExtensions.AddRegistryClient(Microsoft.Extensions.Hosting.IHostApplicationBuilder, Action{RegistryClientOptions})"/>) for the same cluster. Everything it started it stops by process id.
/// </summary>
public sealed class RegistryClusterProcesses(string connectionString, IReadOnlyList<string>? extraArguments = null) : IAsyncDisposable
{
    private readonly string _id = Guid.NewGuid().ToString("N")[..10];
    private readonly string _work = Directory.CreateTempSubdirectory("registry-cluster-").FullName;
    private readonly List<RegistryProcess> _processes = [];
    private readonly List<IHost> _clients = [];

    public string ClusterId => $"test-{_id}";

    public string StoragePrefix => $"c{_id}";

    /// <summary>What every process of the cluster is given: the cluster's identity and storage, and a 1 s policy refresh.</summary>
    public string[] CommonArguments =>
    [
        $"--Registry:StorageConnectionString={connectionString}",
        $"--Registry:ClusterId={ClusterId}",
        $"--Registry:ServiceId={ClusterId}",
        $"--Registry:StoragePrefix={StoragePrefix}",
        "--Registry:IndexPartitions=4",
        "--Registry:AccessPolicyRefreshSeconds=1",
        .. extraArguments ?? [],
    ];

    /// <summary>Starts a silo process and returns once it logged that it listens.</summary>
    public async Task<RegistryProcess> StartSiloAsync(CancellationToken ct, params string[] siloArguments)
    {
        var silo = StartSiloProcess(siloArguments);
        await silo.WaitUntilListeningAsync(ct);
        return silo;
    }

    /// <summary>Starts a silo process without waiting for it (to see it refuse).</summary>
    public RegistryProcess StartSiloProcess(params string[] siloArguments)
    {
        var ports = FreePorts.Take(3);
        return Start(
        [
            "--Registry:Role=silo",
            $"--Registry:DataFolder={Path.Combine(_work, $"silo-{ports[0]}")}",
            $"--Registry:SiloPort={ports[0]}",
            $"--Registry:GatewayPort={ports[1]}",
            $"--Registry:HealthPort={ports[2]}",
            .. siloArguments,
        ]);
    }

    /// <summary>
    /// Starts a gateway process and returns once it logged that it listens (it then holds the cluster's keys); with
    /// <paramref name="observed"/>, it also serves <c>/metrics</c> and the probes on a management port of its own.
    /// <paramref name="gatewayArguments"/> are settings of this gateway alone (a secret the silos need not hold).
    /// </summary>
    public async Task<GatewayProcess> StartGatewayAsync(CancellationToken ct, bool observed = false, params string[] gatewayArguments)
    {
        var management = observed ? FreePorts.Take(1)[0] : 0;
        var (process, data, https, mqtt) = Gateway([.. observed ? [$"--Registry:Observability:Port={management}"] : Array.Empty<string>(), .. gatewayArguments]);
        await process.WaitUntilListeningAsync(ct);
        return new GatewayProcess(process, data, https, mqtt) { ManagementPort = management };
    }

    /// <summary>Starts a gateway process with settings of its own (pinned keys) and returns once it logged that it listens.</summary>
    public async Task<GatewayProcess> StartGatewayWithAsync(CancellationToken ct, params string[] gatewayArguments)
    {
        var (process, data, https, mqtt) = Gateway(gatewayArguments);
        await process.WaitUntilListeningAsync(ct);
        return new GatewayProcess(process, data, https, mqtt);
    }

    /// <summary>Starts a gateway process without waiting for it (to see it refuse).</summary>
    public RegistryProcess StartGatewayProcess(params string[] gatewayArguments) => Gateway(gatewayArguments).Process;

    private (RegistryProcess Process, string Data, int Https, int Mqtt) Gateway(string[] gatewayArguments)
    {
        var ports = FreePorts.Take(2);
        var data = Path.Combine(_work, $"gateway-{ports[0]}");
        RegistryTestHost.SeedCertificates(data);
        var process = Start(
        [
            "--Registry:Role=gateway",
            $"--Registry:DataFolder={data}",
            $"--Registry:HttpsPort={ports[0]}",
            $"--Registry:MqttPort={ports[1]}",
            .. gatewayArguments,
        ]);
        return (process, data, ports[0], ports[1]);
    }

    /// <summary>A started client app host connected to the cluster through Registry.Client.</summary>
    public async Task<IClusterClient> ClientAsync(CancellationToken ct)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.AddRegistryClient(o =>
        {
            o.StorageConnectionString = connectionString;
            o.ClusterId = ClusterId;
            o.ServiceId = ClusterId;
            o.StoragePrefix = StoragePrefix;
            // The event stream exists once the cluster routes a source.
            o.Events = (extraArguments ?? []).Any(a => a.StartsWith("--Registry:Routes:", StringComparison.Ordinal));
        });
        var host = builder.Build();
        _clients.Add(host);
        await host.StartAsync(ct);
        return host.Services.GetRequiredService<IClusterClient>();
    }

    /// <summary>The policy <paramref name="keyName"/> as the cluster stores it, read through a client app.</summary>
    public async Task<AccessPolicyRecord> PolicyAsync(string keyName, CancellationToken ct)
    {
        var client = _clients.Count > 0 ? _clients[0].Services.GetRequiredService<IClusterClient>() : await ClientAsync(ct);
        var stored = await client.GetGrain<IAccessPolicyGrain>(0).Get() ?? throw new InvalidOperationException("no policies stored yet");
        return stored.Policies.Single(p => p.KeyName == keyName);
    }

    private RegistryProcess Start(params string[] roleArguments)
    {
        var process = RegistryProcess.Start(_work, [.. CommonArguments, .. roleArguments]);
        _processes.Add(process);
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.StopAsync();
            client.Dispose();
        }
        // Gateways first: a client outliving its silos only retries.
        foreach (var process in Enumerable.Reverse(_processes))
        {
            await process.DisposeAsync();
        }
    }
}

/// <summary>A gateway process of a <see cref="RegistryClusterProcesses"/>: its ports, and HTTP clients trusting its own CA.</summary>
public sealed record GatewayProcess(RegistryProcess Process, string DataFolder, int HttpsPort, int MqttPort)
{
    public const string HostName = "localhost";

    /// <summary>The plain-HTTP management port (<c>Registry:Observability:Port</c>), or 0 when started without one.</summary>
    public int ManagementPort { get; init; }

    public string CaPath => Path.Combine(DataFolder, "certs", DevelopmentCertificates.CaFileName);

    /// <summary>An HttpClient signing each request with <paramref name="keyName"/> and <paramref name="key"/>, trusting only this gateway's CA.</summary>
    public HttpClient Client(string keyName, string key) =>
        Client(() => SharedAccessSignature.Create(HostName, key, keyName, DateTimeOffset.UtcNow.AddHours(1)));

    /// <summary>An HttpClient sending the Authorization <paramref name="authorization"/> gives, trusting only this gateway's CA.</summary>
    public HttpClient Client(Func<string> authorization)
    {
        var handler = new SocketsHttpHandler { SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, c, _, _) => Trusts(c) } };
        var signed = new SigningHandler(authorization) { InnerHandler = handler };
        return new HttpClient(signed) { BaseAddress = new Uri($"https://127.0.0.1:{HttpsPort.ToString(CultureInfo.InvariantCulture)}/") };
    }

    public bool Trusts(X509Certificate? certificate)
    {
        if (certificate is null)
        {
            return false;
        }
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(CaPath));
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(certificate));
    }

    private sealed class SigningHandler(Func<string> authorization) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization());
            return base.SendAsync(request, cancellationToken);
        }
    }
}
