using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Registry.Gateway.Security;
using Registry.Host;

namespace Registry.Bench;

/// <summary>A registry host started in this process, its temporary data folder, and its HTTPS base address.</summary>
internal sealed record BenchRegistry(WebApplication App, string DataFolder, string BaseAddress)
{
    public string Certificates => Path.Combine(DataFolder, "certs");

    /// <summary>The registry's <c>Registry:StoragePrefix</c> (durable): its tables are named from it.</summary>
    public string StoragePrefix { get; init; } = "";

    /// <summary>
    /// An owner SAS token for the whole run, as the C# SDK reuses its token; null when authentication is off. Read from the
    /// host's policies in force: a durable registry keeps them in the cluster's storage, not in its data folder.
    /// </summary>
    public string? OwnerToken() =>
        App.Services.GetRequiredService<SharedAccessPolicies>().TryGet(SharedAccessPolicy.OwnerKeyName, out var owner)
            ? SharedAccessSignature.Create("localhost", owner.PrimaryKey, owner.KeyName, DateTimeOffset.UtcNow.AddHours(12))
            : null;

    public async Task StopAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        Directory.Delete(DataFolder, recursive: true);
    }
}

/// <summary>
/// What every benchmark phase needs to run the real host over real HTTPS: the host started in-process with the
/// host's own builder (so the figures are the product's), a client that trusts its development CA, free ports.
/// </summary>
internal static class BenchHost
{
    /// <summary>
    /// Starts a registry; <paramref name="partitions"/> null leaves the host's default, so the same benchmark runs
    /// on versions of the code whose index settings differ. <paramref name="hearSignals"/> false: the host takes no
    /// SIGINT or SIGTERM (see <see cref="SignalFreeLifetime"/>).
    /// </summary>
    public static async Task<BenchRegistry> StartRegistryAsync(string name, string? storage, bool authentication, string? certificate, int? partitions,
        IReadOnlyDictionary<string, string?>? settings = null, bool hearSignals = true)
    {
        var folder = Directory.CreateTempSubdirectory("registry-bench-").FullName;
        var hostPorts = FreePorts(3);
        var config = new Dictionary<string, string?>
        {
            ["Registry:DataFolder"] = folder,
            ["Registry:HttpsPort"] = hostPorts[0].ToString(CultureInfo.InvariantCulture),
            ["Registry:SiloPort"] = hostPorts[1].ToString(CultureInfo.InvariantCulture),
            ["Registry:GatewayPort"] = hostPorts[2].ToString(CultureInfo.InvariantCulture),
            ["Registry:MqttPort"] = "0",
            ["Registry:ClusterId"] = "bench-" + name,
            ["Registry:ServiceId"] = "bench-" + name,
            ["Registry:StoragePrefix"] = "bench" + name,
            ["Registry:StorageConnectionString"] = storage,
            ["Registry:Authentication:Enabled"] = authentication ? "true" : "false",
            ["Registry:CertificatePath"] = certificate,
        };
        if (partitions is { } p)
        {
            config["Registry:IndexPartitions"] = p.ToString(CultureInfo.InvariantCulture);
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }
        var app = RegistryHost.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(config);
            builder.Logging.ClearProviders();
            if (!hearSignals)
            {
                builder.Services.AddSingleton<IHostLifetime, SignalFreeLifetime>();
            }
        });
        await app.StartAsync();
        return new BenchRegistry(app, folder, $"https://127.0.0.1:{hostPorts[0]}") { StoragePrefix = "bench" + name };
    }

    /// <summary>
    /// The HTTP ceiling: Kestrel with the same TLS certificate and nothing behind it. <c>GET /noop</c> answers a small
    /// JSON body like a registry read; <c>POST /noop</c> drains the body and answers 204 like a device message.
    /// </summary>
    public static WebApplication BuildNoopServer(string pfxPath, int port, bool hearSignals = true)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        if (!hearSignals)
        {
            builder.Services.AddSingleton<IHostLifetime, SignalFreeLifetime>();
        }
        var certificate = X509CertificateLoader.LoadPkcs12FromFile(pfxPath, password: null);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, l => l.UseHttps(certificate)));
        var app = builder.Build();
        app.MapGet("/noop", () => Results.Text("{}", "application/json; charset=utf-8"));
        app.MapPost("/noop", async (HttpRequest request) =>
        {
            await request.Body.CopyToAsync(Stream.Null);
            return Results.NoContent();
        });
        return app;
    }

    public static HttpClient CreateClient(string caPath, int connections)
    {
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(caPath));
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return certificate is not null && chain.Build(new X509Certificate2(certificate));
                },
            },
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromMinutes(5) };
    }

    public static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        foreach (var l in listeners)
        {
            l.Start();
        }
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var l in listeners)
        {
            l.Stop();
        }
        return ports;
    }

    public static string RepositoryRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Registry.Orleans.sln")))
                {
                    return dir.FullName;
                }
            }
        }
        throw new InvalidOperationException($"Cannot find the repository root (Registry.Orleans.sln) above {AppContext.BaseDirectory}.");
    }
}

/// <summary>
/// A host lifetime that takes no signal, for a host inside a program that handles SIGINT and SIGTERM itself (the load
/// harness: its first signal ends the run with a report, its second aborts). The default console lifetime also took
/// them and cancelled them to stop its host, so the harness's second signal, the abort, was swallowed.
/// </summary>
internal sealed class SignalFreeLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
