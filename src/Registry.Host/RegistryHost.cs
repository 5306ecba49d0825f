using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Registry.Abstractions;
using Registry.Client;
using Registry.Gateway;
using Registry.Gateway.Mqtt;
using Registry.Gateway.Security;
using Registry.Gateway.Throttling;

namespace Registry.Host;

/// <summary>
/// Builds the registry process in its <see cref="RegistrySettings.Role"/>: a silo with the HTTPS and MQTT edge co-hosted
/// (all), a silo alone, or the edge alone as an Orleans client of the cluster (gateway). Tests and Program.cs build it
/// the same way, so what the tests start is what users run.
/// </summary>
public static partial class RegistryHost
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // appsettings.json is read from beside the binary, whatever the working directory the process starts in.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        configure?.Invoke(builder);
        // A failed start is said once: in one line when it is a refusal (Program), or as the unhandled exception with its
        // stack trace when it is a crash. The generic host's own "Hosting failed to start" error printed the same exception's
        // stack trace before the refusal's line (a gateway that found no silo). Its other error, a faulted background
        // service, is followed by its Critical "stopping the host" with the same exception, which stays.
        // A filter function replaces the category's minimum level, so it keeps the shipped Information too (with only
        // "not Error" the host's Debug lines, "Hosting starting", reached the console).
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", level => level is >= LogLevel.Information and not LogLevel.Error);
        // A silo that cannot be reached is one line per entry on the console, not a stack per retry.
        TerseNetworkLogs.Apply(builder.Services);

        // Every setting is checked before anything is written or bound: a mistake is one line and exit code 1.
        var section = builder.Configuration.GetSection(RegistrySettings.Section);
        UnknownSettings.Refuse(section);
        UnknownSettings.RefuseLogLevels(builder.Configuration.GetSection("Logging"));
        var settings = RegistrySettings.Bind<RegistrySettings>(section);
        settings.Validate();
        StartChecks.Validate(section, settings);
        var observability = ObservabilitySettings.Bind(section);
        var managementPort = observability.Port;
        (string, IPEndPoint)[] endpoints = [.. RoleEndpoints(settings, observability)];
        ExclusiveStart.EnsureDistinct(endpoints);
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(new ListenEndpoints(endpoints));

        var dataFolder = settings.ResolveDataFolder();
        // Claimed before anything is written or bound, and held until the app is disposed. A folder another registry
        // holds is named first; then the ports, before the folder or its lock file is created, so that a start refused
        // for a port leaves nothing behind (checking them touches no file, so the lock guards no less).
        var folderLock = ExclusiveStart.LockDataFolderIfPresent(dataFolder);
        try
        {
            ExclusiveStart.EnsureFree(endpoints);
            if (settings.IsDurable)
            {
                StartChecks.EnsureStorageAnswers(settings);
            }
            folderLock ??= ExclusiveStart.LockDataFolder(dataFolder);
            builder.Services.AddKeyedSingleton(ExclusiveStart.LockFileName, (_, _) => folderLock);
            // The one clock of the process: token expiry, throttles and device timestamps read it (as the registry's clock,
            // which is this one), and so does Orleans.
            builder.Services.AddRegistryClock();
            var mqtt = new MqttListener();
            builder.Services.AddSingleton(mqtt);
            builder.Services.Configure<SocketTransportOptions>(o => o.Backlog = settings.ListenBacklog);
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.ShutdownTimeout);
            if (settings.HostsSilo)
            {
                var beforeOrleans = builder.Services.Count;
                builder.UseOrleans(silo => SiloConfiguration.Configure(silo, settings));
                // Bounded whatever storage does: a silo that cannot say goodbye to the membership table still stops.
                BoundedSiloStop.WrapAddedSince(builder.Services, beforeOrleans);
            }
            else
            {
                builder.UseOrleansClient(client => client.UseRegistryCluster(settings.ClientOptions()));
            }
            if (!settings.ServesEdge)
            {
                // A silo serves no device and no service: only its health, in plain HTTP (SiloHealth), and its metrics on
                // the management port when one is set: the device grains, the monitor and the jobs count there, not at a gateway.
                builder.WebHost.ConfigureKestrel(kestrel =>
                {
                    kestrel.AddServerHeader = false;
                    kestrel.Listen(IPAddress.Parse(settings.ListenAddress), settings.HealthPort);
                });
                // With Registry:Dashboard:Enabled the silo collects for the gateways' dashboards and shows nothing: it has
                // no TLS port, and the dashboard's password must not travel in plain HTTP.
                builder.AddRegistryObservability(servesEdge: false, settings.ShutdownTimeout);
                var silo = builder.Build();
                silo.MapSiloHealth();
                silo.MapRegistryObservability(servesEdge: false);
                var siloLogger = silo.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Registry.Host");
                silo.Lifetime.ApplicationStarted.Register(() => LogListening(siloLogger,
                    string.Join(", ", [.. ListeningAddresses(silo).Select(a => Labelled(a, managementPort, "health")), .. SiloConfiguration.ListenEndpoints(settings).Select(e => $"{e.Setting} {e.Endpoint}")]), settings.HostName));
                silo.Services.GetRequiredKeyedService<IDisposable>(ExclusiveStart.LockFileName);
                return silo;
            }

            // Before the certificates: an unusable policy file stops the start with nothing else written. A durable
            // registry keeps its policies in the cluster's storage instead (ClusterAccessPolicies), one set for every edge.
            var policies = settings.IsDurable
                ? ClusterAccessPolicies.Register(builder.Services, dataFolder, settings)
                : AccessPolicyStore.Load(dataFolder, settings.AccessPolicies);
            var generated = settings.CertificatePath is { Length: > 0 }
                ? null
                : DevelopmentCertificates.LoadOrCreate(Path.Combine(dataFolder, "certs"), settings.HostName);
            var certificate = generated?.Server
                ?? System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(settings.CertificatePath!, settings.CertificatePassword);

            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                // Header values decode as Latin-1 (RFC 9110 section 5.5: other octets are opaque data), as Node writes them,
                // so a non-ASCII byte reaches the registry's own rules (an application property's value: 400 ArgumentInvalid,
                // nothing counted; a token: 401) instead of Kestrel's bare 400. Every registry rule accepts ASCII only there.
                kestrel.RequestHeaderEncodingSelector = _ => System.Text.Encoding.Latin1;
                kestrel.Listen(IPAddress.Parse(settings.ListenAddress), settings.HttpsPort, listen => listen.UseHttps(certificate));
                // The listen address only: MQTTnet's own listener would take every IPv4 address and [::].
                kestrel.Listen(IPAddress.Parse(settings.ListenAddress), settings.MqttPort, listen => mqtt.Options = listen.UseMqttDeviceEdge(certificate));
            });
            builder.Services.AddRegistryGateway();
            builder.Services.Configure<EventStreamOptions>(o => o.RoutedSources = settings.RoutedSources());
            builder.Services.AddRegistryAuthentication(policies.Policies, o =>
            {
                o.HostName = settings.HostName;
                o.Enabled = settings.Authentication.Enabled;
                o.TokenCacheSize = settings.Authentication.TokenCacheSize;
                o.DeviceCacheDuration = TimeSpan.FromSeconds(settings.Authentication.DeviceCacheSeconds);
            });
            builder.Services.AddMqttDeviceEdge(o =>
            {
                o.ConnectTimeout = settings.MqttConnectTimeout;
                o.MaxConnections = settings.MqttMaxConnections;
                o.SessionRefresh = settings.MqttSessionRefresh;
            });
            builder.Services.AddOptions<ThrottlingOptions>()
                .Bind(builder.Configuration.GetSection(RegistrySettings.Section).GetSection(ThrottlingOptions.Section));

            builder.AddRegistryObservability(servesEdge: true, settings.ShutdownTimeout);

            var app = builder.Build();
            app.UseRegistryAuthentication();
            app.MapRegistryApi();
            app.MapRegistryObservability(servesEdge: true);

            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Registry.Host");
            LogAccessPolicies(logger, policies, settings);
            if (generated?.CaReplacedBecause is { } reason)
            {
                LogCaReplaced(logger, generated.CaPath, reason);
            }
            app.Lifetime.ApplicationStarted.Register(() =>
            {
                if (!settings.IsDurable)
                {
                    LogEmbedded(logger);
                }
                if (generated is not null)
                {
                    LogCertificate(logger, generated.CaPath);
                }
                LogListening(logger, string.Join(", ", [.. ListeningAddresses(app).Select(a => Labelled(a, managementPort, null)), $"mqtts://{MqttEndpoint(app)}"]), settings.HostName);
            });
            // Resolved once so that the container owns the lock and releases it when the app is disposed.
            app.Services.GetRequiredKeyedService<IDisposable>(ExclusiveStart.LockFileName);
            return app;
        }
        catch
        {
            folderLock?.Dispose();
            throw;
        }
    }

    /// <summary>What this role binds, the management port included, checked distinct and free before anything is written.</summary>
    private static IEnumerable<(string Setting, IPEndPoint Endpoint)> RoleEndpoints(RegistrySettings settings, ObservabilitySettings observability)
    {
        var listen = IPAddress.Parse(settings.ListenAddress);
        if (settings.ServesEdge)
        {
            yield return ("Registry:HttpsPort", new IPEndPoint(listen, settings.HttpsPort));
            yield return ("Registry:MqttPort", new IPEndPoint(listen, settings.MqttPort));
        }
        else
        {
            yield return ("Registry:HealthPort", new IPEndPoint(listen, settings.HealthPort));
        }
        if (settings.HostsSilo)
        {
            foreach (var endpoint in SiloConfiguration.ListenEndpoints(settings))
            {
                yield return endpoint;
            }
        }
        if (observability.Port > 0)
        {
            yield return ("Registry:Observability:Port", new IPEndPoint(IPAddress.Parse(observability.ListenAddress), observability.Port));
        }
    }

    /// <summary>The HTTPS addresses Kestrel actually bound (port 0 becomes the real port); the MQTT endpoint is not one.</summary>
    public static IReadOnlyList<string> ListeningAddresses(WebApplication app)
    {
        var mqtt = MqttEndpoint(app);
        return app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            .Where(a => mqtt is null || !Uri.TryCreate(a, UriKind.Absolute, out var uri) || uri.Port != mqtt.Port)
            .ToArray() ?? [];
    }

    /// <summary>
    /// An address of the start line with what it serves: the management port (<c>Registry:Observability:Port</c>, 0 for
    /// none) is where <c>/metrics</c> is scraped, which a silo's line labelled "(health)" like its health port.
    /// </summary>
    private static string Labelled(string address, int managementPort, string? otherwise) =>
        managementPort != 0 && Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Port == managementPort
            ? $"{address} (management: /metrics)"
            : otherwise is null ? address : $"{address} ({otherwise})";

    /// <summary>The MQTT endpoint Kestrel bound (port 0 becomes the real port), once the app started.</summary>
    public static IPEndPoint? MqttEndpoint(WebApplication app) => app.Services.GetRequiredService<MqttListener>().Options?.IPEndPoint;

    /// <summary>Where the MQTT endpoint's listen options are kept, so its bound port can be read after start.</summary>
    internal sealed class MqttListener
    {
        public ListenOptions? Options { get; set; }
    }

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

    [LoggerMessage(EventId = 4007, Level = LogLevel.Warning, Message = "Replaced the TLS certificate authority {CaPath} because {Reason}: clients that trusted the old one must trust the new file.")]
    private static partial void LogCaReplaced(ILogger logger, string caPath, string reason);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Information, Message = "TLS certificate authority: {CaPath} (trust it with NODE_EXTRA_CA_CERTS or SSL_CERT_FILE)")]
    private static partial void LogCertificate(ILogger logger, string caPath);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Information, Message = "Registry listening on {Addresses} for host name {HostName}")]
    private static partial void LogListening(ILogger logger, string addresses, string hostName);
}
