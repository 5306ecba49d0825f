using System.Net;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Registry.Gateway;
using Registry.Gateway.Security;
using Registry.Gateway.Throttling;

namespace Registry.Host;

/// <summary>
/// Builds the registry process: a silo with the HTTPS gateway co-hosted in the same process. Tests and
/// Program.cs build it the same way, so what the tests start is what users run.
/// </summary>
public static partial class RegistryHost
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);

        var settings = builder.Configuration.GetSection(RegistrySettings.Section).Get<RegistrySettings>() ?? new RegistrySettings();
        builder.Services.AddSingleton(settings);

        var dataFolder = settings.ResolveDataFolder();
        string? caPath = null;
        var certificate = settings.CertificatePath is { Length: > 0 } path
            ? System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(path, settings.CertificatePassword)
            : DevelopmentCertificates.LoadOrCreate(Path.Combine(dataFolder, "certs"), settings.HostName, out caPath);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Parse(settings.ListenAddress), settings.HttpsPort, listen => listen.UseHttps(certificate));
        });

        // The one clock of the process: token expiry, throttles and device timestamps read it, and so does Orleans.
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.UseOrleans(silo => SiloConfiguration.Configure(silo, settings));
        builder.Services.AddRegistryGateway();
        var policies = AccessPolicyStore.Load(dataFolder, settings.AccessPolicies);
        builder.Services.AddRegistryAuthentication(policies.Policies, o =>
        {
            o.HostName = settings.HostName;
            o.Enabled = settings.Authentication.Enabled;
            o.TokenCacheSize = settings.Authentication.TokenCacheSize;
            o.DeviceCacheDuration = TimeSpan.FromSeconds(settings.Authentication.DeviceCacheSeconds);
        });
        builder.Services.AddOptions<ThrottlingOptions>()
            .Bind(builder.Configuration.GetSection(RegistrySettings.Section).GetSection(ThrottlingOptions.Section));

        var app = builder.Build();
        app.UseRegistryAuthentication();
        app.MapRegistryApi();

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Registry.Host");
        LogAccessPolicies(logger, policies, settings);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            if (!settings.IsDurable)
            {
                LogEmbedded(logger);
            }
            if (caPath is not null)
            {
                LogCertificate(logger, caPath);
            }
            LogListening(logger, string.Join(", ", ListeningAddresses(app)), settings.HostName);
        });
        return app;
    }

    /// <summary>The addresses Kestrel actually bound (port 0 becomes the real port).</summary>
    public static IReadOnlyList<string> ListeningAddresses(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];

    /// <summary>
    /// The owner connection string is logged exactly once, by the start that generated it; no other key is ever logged.
    /// Disabled authentication is repeated on every start so it cannot be forgotten.
    /// </summary>
    private static void LogAccessPolicies(ILogger logger, AccessPolicyLoad policies, RegistrySettings settings)
    {
        if (policies.GeneratedOwner is { } owner)
        {
            LogGeneratedOwner(logger, policies.FilePath, owner.ConnectionString(settings.HostName));
        }
        if (policies.FileIsShared)
        {
            LogPolicyFileShared(logger, policies.FilePath);
        }
        if (!settings.Authentication.Enabled)
        {
            LogAuthenticationDisabled(logger);
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Generated shared access policies in {PolicyFile}. Owner connection string, shown only this once: {ConnectionString}")]
    private static partial void LogGeneratedOwner(ILogger logger, string policyFile, string connectionString);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "{PolicyFile} holds secret keys but others may read or write it; chmod 600 it.")]
    private static partial void LogPolicyFileShared(ILogger logger, string policyFile);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "AUTHENTICATION DISABLED (Registry:Authentication:Enabled=false): every registry endpoint answers ANONYMOUS callers. Never run like this outside a benchmark or a closed test network.")]
    private static partial void LogAuthenticationDisabled(ILogger logger);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "EMBEDDED MODE: grain state and reminders are kept in memory; NOTHING SURVIVES A RESTART. Set Registry:StorageConnectionString for durable storage.")]
    private static partial void LogEmbedded(ILogger logger);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Information, Message = "TLS certificate authority: {CaPath} (trust it with NODE_EXTRA_CA_CERTS or SSL_CERT_FILE)")]
    private static partial void LogCertificate(ILogger logger, string caPath);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Information, Message = "Registry listening on {Addresses} for host name {HostName}")]
    private static partial void LogListening(ILogger logger, string addresses, string hostName);
}
