using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Registry.Host;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// The real registry process (silo + HTTPS gateway, built by <see cref="RegistryHost"/>) started in the test
/// process on free ports, with its own data folder, ClusterId and ServiceId. HTTP clients it hands out trust
/// only the CA the host generated, as the SDKs would via NODE_EXTRA_CA_CERTS.
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

    public string CaPath => Path.Combine(DataFolder, "certs", DevelopmentCertificates.CaFileName);

    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Starts a registry. <paramref name="settings"/> override defaults (e.g. Registry:StorageConnectionString);
    /// pass the same data folder and ids again to restart "the same" registry.
    /// </summary>
    public static async Task<RegistryTestHost> StartAsync(IDictionary<string, string?>? settings = null, string? dataFolder = null)
    {
        dataFolder ??= Directory.CreateTempSubdirectory("registry-test-").FullName;
        var ports = FreePorts.Take(3);
        var id = Guid.NewGuid().ToString("N")[..12];
        var config = new Dictionary<string, string?>
        {
            ["Registry:DataFolder"] = dataFolder,
            ["Registry:HttpsPort"] = ports[0].ToString(),
            ["Registry:SiloPort"] = ports[1].ToString(),
            ["Registry:GatewayPort"] = ports[2].ToString(),
            ["Registry:ClusterId"] = $"test-{id}",
            ["Registry:ServiceId"] = $"test-{id}",
            ["Registry:IndexPartitions"] = "16",
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
        });
        await app.StartAsync();
        return new RegistryTestHost(app, dataFolder, ports[0]);
    }

    /// <summary>An HttpClient whose only trusted root is the registry's generated CA.</summary>
    public HttpClient CreateClient()
    {
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(CaPath));
        var handler = new SocketsHttpHandler
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
        return new HttpClient(handler) { BaseAddress = BaseAddress };
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
