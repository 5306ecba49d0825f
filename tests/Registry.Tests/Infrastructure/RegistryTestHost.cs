using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Registry.Gateway.Security;
using Registry.Host;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// The real registry process (silo + HTTPS gateway, built by <see cref="RegistryHost"/>) started in the test
/// process on free ports, with its own data folder, ClusterId and ServiceId. HTTP clients it hands out trust
/// only the CA the host generated, as the SDKs would via NODE_EXTRA_CA_CERTS, and sign every request with a fresh
/// SAS token as the Node service SDK does (<see cref="CreateClient()"/> as iothubowner).
/// </summary>
public sealed class RegistryTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RegistryTestHost(WebApplication app, string dataFolder, int httpsPort)
    {
        _app = app;
        DataFolder = dataFolder;
        BaseAddress = new Uri($"https://127.0.0.1:{httpsPort}/");
    }

    public string DataFolder { get; }

    public Uri BaseAddress { get; }

    /// <summary>The MQTT device port the host bound (Registry:MqttPort is 0 here: a free port).</summary>
    public int MqttPort => RegistryHost.MqttEndpoint(_app)!.Port;

    public string CaPath => Path.Combine(DataFolder, "certs", DevelopmentCertificates.CaFileName);

    public IServiceProvider Services => _app.Services;

    /// <summary>The HostName tokens are issued for (Registry:HostName).</summary>
    public string HostName => Services.GetRequiredService<IOptions<SharedAccessOptions>>().Value.HostName;

    /// <summary>The shared access policies the host accepts (generated into the data folder, or configured).</summary>
    public SharedAccessPolicies Policies => Services.GetRequiredService<SharedAccessPolicies>();

    /// <summary><c>HostName=..;SharedAccessKeyName=iothubowner;SharedAccessKey=..</c>, as an SDK user would paste it.</summary>
    public string OwnerConnectionString => Policy(SharedAccessPolicy.OwnerKeyName).ConnectionString(HostName);

    public SharedAccessPolicy Policy(string keyName) =>
        Policies.TryGet(keyName, out var policy) ? policy : throw new ArgumentException($"no policy {keyName}", nameof(keyName));

    /// <summary>The longest a test host's start may take (several seconds on this loaded machine; never minutes).</summary>
    public static readonly TimeSpan StartBound = TimeSpan.FromMinutes(3);

    /// <summary>
    /// Starts a registry. <paramref name="settings"/> override defaults (e.g. Registry:StorageConnectionString);
    /// pass the same data folder and ids again to restart "the same" registry. <paramref name="configure"/> runs after
    /// the test defaults (e.g. to add a logger provider or replace the authentication clock); <paramref name="map"/> adds
    /// test-only endpoints to the real app before it starts, behind the real middleware.
    /// </summary>
    public static async Task<RegistryTestHost> StartAsync(
        IDictionary<string, string?>? settings = null,
        string? dataFolder = null,
        Action<WebApplicationBuilder>? configure = null,
        Action<WebApplication>? map = null)
    {
        if (dataFolder is null)
        {
            dataFolder = Directory.CreateTempSubdirectory("registry-test-").FullName;
            SeedCertificates(dataFolder);
        }
        var ports = FreePorts.Take(3);
        var id = Guid.NewGuid().ToString("N")[..12];
        var config = new Dictionary<string, string?>
        {
            ["Registry:DataFolder"] = dataFolder,
            ["Registry:HttpsPort"] = ports[0].ToString(),
            ["Registry:SiloPort"] = ports[1].ToString(),
            ["Registry:GatewayPort"] = ports[2].ToString(),
            ["Registry:MqttPort"] = "0",
            ["Registry:ClusterId"] = $"test-{id}",
            ["Registry:ServiceId"] = $"test-{id}",
            ["Registry:IndexPartitions"] = "16",
            // The suite runs its Azurite-backed tests side by side on two cores, where one storage answer can take more
            // than the 5 s default; a test of the time bound itself sets its own (StorageOutageTests: 2 s). Without this a
            // precondition (a bulk create) could come back 400 with an item answered ServiceUnavailable, as in CI once.
            ["Registry:StorageTimeoutSeconds"] = "30",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }

        var app = RegistryHost.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(config);
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            configure?.Invoke(builder);
        });
        map?.Invoke(app);
        try
        {
            // Bounded: a start that never ends (a silo start waiting on itself) fails the test that needs it, named,
            // instead of stalling the whole run.
            await app.StartAsync().WaitAsync(StartBound);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"The registry host did not start within {StartBound.TotalMinutes:0} min.", e);
        }
        catch
        {
            // A refused start must not leave a half-started silo holding ports for the rest of the run.
            await app.DisposeAsync();
            throw;
        }
        return new RegistryTestHost(app, dataFolder, ports[0]);
    }

    /// <summary>
    /// A CA and a <c>localhost</c> server certificate made once per test process (<see cref="DevelopmentCertificates"/>, as a
    /// first start makes them), copied into each fresh data folder a test host or gateway process is given. Making them is two RSA-2048 key
    /// generations, 0.3 to 1.2 s of CPU on this machine: about half of what an in-process start costs, paid by hundreds of
    /// starts on a suite's two cores. A start then finds them and reuses them as any later start does; what a first start
    /// makes is tested where it is the subject (DevelopmentCertificatesTests, WorkingDirectoryTests, the SDK suite). A test
    /// that names another HostName gets a server certificate for it, issued by the same CA, as a restart would.
    /// </summary>
    private static readonly Lazy<string> CertificateTemplate = new(() =>
    {
        var folder = Directory.CreateTempSubdirectory("registry-test-certs-").FullName;
        DevelopmentCertificates.LoadOrCreate(folder, "localhost").Server.Dispose();
        return folder;
    });

    /// <summary>Puts the test run's certificates into <paramref name="dataFolder"/>'s <c>certs</c>, for a fresh folder only.</summary>
    public static void SeedCertificates(string dataFolder)
    {
        var certs = Directory.CreateDirectory(Path.Combine(dataFolder, "certs")).FullName;
        foreach (var file in Directory.GetFiles(CertificateTemplate.Value))
        {
            File.Copy(file, Path.Combine(certs, Path.GetFileName(file)));
        }
    }

    /// <summary>An HttpClient that signs every request as iothubowner (unless the request carries its own Authorization).</summary>
    public HttpClient CreateClient() => CreateClient(SharedAccessPolicy.OwnerKeyName);

    /// <summary>
    /// An HttpClient signing every request with <paramref name="policyName"/>'s primary key and <c>sr=HostName</c>, a fresh
    /// one-hour <c>se</c> per request like the Node service SDK; null gives an anonymous client.
    /// </summary>
    public HttpClient CreateClient(string? policyName)
    {
        if (policyName is null)
        {
            return CreateAnonymousClient();
        }
        var policy = Policy(policyName);
        return CreateSignedClient(() => SharedAccessSignature.Create(HostName, policy.PrimaryKey, policy.KeyName, DateTimeOffset.UtcNow.AddHours(1)));
    }

    /// <summary>An HttpClient that signs as the device itself: <c>sr=HostName/devices/{id}</c>, the device key, no <c>skn</c>.</summary>
    public HttpClient CreateDeviceClient(string deviceId, string deviceKey) =>
        CreateSignedClient(() => SharedAccessSignature.Create($"{HostName}/devices/{deviceId}", deviceKey, null, DateTimeOffset.UtcNow.AddHours(1)));

    /// <summary>An HttpClient whose every request carries the Authorization value <paramref name="authorization"/> returns.</summary>
    public HttpClient CreateSignedClient(Func<string> authorization) =>
        new(new SasSigningHandler(authorization) { InnerHandler = CreateHandler() }) { BaseAddress = BaseAddress };

    /// <summary>An HttpClient that sends no Authorization of its own (hostile tests add theirs per request).</summary>
    public HttpClient CreateAnonymousClient() => new(CreateHandler()) { BaseAddress = BaseAddress };

    /// <summary>A handler whose only trusted root is the registry's generated CA.</summary>
    private SocketsHttpHandler CreateHandler()
    {
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(CaPath));
        return new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                    {
                        return false;
                    }
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(new X509Certificate2(certificate));
                },
            },
        };
    }

    /// <summary>Adds a freshly made token to each request that has no Authorization yet.</summary>
    private sealed class SasSigningHandler(Func<string> authorization) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (!request.Headers.Contains("Authorization"))
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization());
            }
            return base.SendAsync(request, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
